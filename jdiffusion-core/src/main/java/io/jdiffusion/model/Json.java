package io.jdiffusion.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.JDiffusionException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reading the JSON config files of a model folder, with one-line errors naming the file. */
public final class Json {
    public static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {
    }

    public static JsonNode read(Path file) {
        if (!Files.isRegularFile(file)) throw new JDiffusionException(file + ": no such file");
        try {
            JsonNode n = MAPPER.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new JDiffusionException(file + ": not a JSON object");
            return n;
        } catch (IOException e) {
            throw new JDiffusionException(file + ": invalid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    public static int intOr(JsonNode n, String key, int dflt) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? dflt : v.asInt();
    }

    public static double doubleOr(JsonNode n, String key, double dflt) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? dflt : v.asDouble();
    }

    public static boolean boolOr(JsonNode n, String key, boolean dflt) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? dflt : v.asBoolean();
    }

    public static String textOr(JsonNode n, String key, String dflt) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? dflt : v.asText();
    }

    /** An int or a list of ints, as a list of {@code count} ints (diffusers accepts both spellings). */
    public static int[] intsOr(JsonNode n, String key, int count, int dflt) {
        JsonNode v = n.get(key);
        int[] out = new int[count];
        if (v == null || v.isNull()) {
            java.util.Arrays.fill(out, dflt);
        } else if (v.isArray()) {
            if (v.size() != count) throw new JDiffusionException("config key '" + key + "' has " + v.size() + " entries, expected " + count);
            for (int i = 0; i < count; i++) out[i] = v.get(i).asInt();
        } else {
            java.util.Arrays.fill(out, v.asInt());
        }
        return out;
    }

    public static String[] strings(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || !v.isArray()) return new String[0];
        String[] out = new String[v.size()];
        for (int i = 0; i < out.length; i++) out[i] = v.get(i).asText();
        return out;
    }

    public static int[] ints(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || !v.isArray()) throw new JDiffusionException("config key '" + key + "' missing");
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) out[i] = v.get(i).asInt();
        return out;
    }
}
