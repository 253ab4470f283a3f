package io.jdiffusion.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.sampling.SamplerId;
import io.jdiffusion.model.Json;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The A1111 "infotext": how an image was made, as AUTOMATIC1111's web UI writes it into the PNG
 * {@code parameters} text chunk and reads it back in its PNG Info tab.
 * <pre>
 * a photograph of an astronaut riding a horse
 * Negative prompt: blurry
 * Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.5, Seed: 42, Size: 512x512, ...
 * </pre>
 * The negative-prompt line is left out when it is empty; the last line is {@code key: value} pairs
 * joined by ", ", and a value holding a comma, colon or newline is written as a JSON string.
 *
 * @param prompt         the positive prompt (may span lines)
 * @param negativePrompt the negative prompt, "" when none
 * @param parameters     the last line's pairs in order, values unquoted
 */
public record Infotext(String prompt, String negativePrompt, Map<String, String> parameters) {

    /** A1111's test for the parameter line (at least 3 matches) and its way of splitting it. */
    private static final Pattern PARAM = Pattern.compile(
            "\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)", Pattern.UNICODE_CHARACTER_CLASS);
    private static final String NEGATIVE_PREFIX = "Negative prompt:";

    public Infotext {
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /**
     * The infotext of one image of a txt2img run, keys in A1111's order.
     *
     * @param seed      this image's seed (unsigned 64-bit)
     * @param modelHash A1111's short model hash ({@link #modelHash(Path)}), or null to leave it out
     * @param modelName the model's name ({@link #modelName(Path)}), or null to leave it out
     */
    public static Infotext forTxt2Img(Txt2ImgRequest r, long seed, String modelHash, String modelName) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("Steps", Integer.toString(r.steps()));
        SamplerId sampler = SamplerId.parse(r.sampler());
        p.put("Sampler", sampler.a1111Name);
        p.put("Schedule type", sampler.scheduleType);
        p.put("CFG scale", formatNumber(r.cfgScale()));
        p.put("Seed", Long.toUnsignedString(seed));
        p.put("Size", r.width() + "x" + r.height());
        if (modelHash != null) p.put("Model hash", modelHash);
        if (modelName != null) p.put("Model", modelName);
        if (r.clipSkip() > 1) p.put("Clip skip", Integer.toString(r.clipSkip()));
        p.put("RNG", "CPU"); // our noise reproduces torch's CPU generator; A1111 assumes "GPU" when absent
        p.put("Version", version());
        return new Infotext(r.prompt(), r.negativePrompt(), p);
    }

    /** A copy with one more parameter at the end (or this key's value replaced where it stands). */
    public Infotext with(String key, String value) {
        Map<String, String> p = new LinkedHashMap<>(parameters);
        p.put(key, value);
        return new Infotext(prompt, negativePrompt, p);
    }

    /** The value of one parameter, or null. */
    public String get(String key) {
        return parameters.get(key);
    }

    /** The text as A1111 writes it. */
    public String format() {
        StringBuilder sb = new StringBuilder(prompt);
        if (!negativePrompt.isEmpty()) sb.append('\n').append(NEGATIVE_PREFIX).append(' ').append(negativePrompt);
        sb.append('\n');
        boolean first = true;
        for (Map.Entry<String, String> e : parameters.entrySet()) {
            if (!first) sb.append(", ");
            first = false;
            sb.append(e.getKey()).append(": ").append(quote(e.getValue()));
        }
        return sb.toString().strip();
    }

    /**
     * Reads an infotext back the way A1111's PNG Info does: the last line holds the parameters when it
     * has at least three {@code key: value} matches; lines before it are the prompt until one starts
     * with "Negative prompt:", and the negative prompt from there on.
     */
    public static Infotext parse(String text) {
        String[] lines = text.strip().split("\n", -1);
        int promptLines = lines.length - 1;
        String last = lines[lines.length - 1];
        if (countMatches(last) < 3) {
            promptLines = lines.length;
            last = "";
        }
        StringBuilder prompt = new StringBuilder();
        StringBuilder negative = new StringBuilder();
        boolean inNegative = false;
        for (int i = 0; i < promptLines; i++) {
            String line = lines[i].strip();
            if (line.startsWith(NEGATIVE_PREFIX)) {
                inNegative = true;
                line = line.substring(NEGATIVE_PREFIX.length()).strip();
            }
            StringBuilder target = inNegative ? negative : prompt;
            if (!target.isEmpty()) target.append('\n');
            target.append(line);
        }
        Map<String, String> params = new LinkedHashMap<>();
        Matcher m = PARAM.matcher(last);
        while (m.find()) {
            params.put(m.group(1).strip(), unquote(m.group(2).strip()));
        }
        return new Infotext(prompt.toString(), negative.toString(), params);
    }

    private static int countMatches(String line) {
        Matcher m = PARAM.matcher(line);
        int n = 0;
        while (m.find()) n++;
        return n;
    }

    /** A value with a comma, colon or newline becomes a JSON string, as A1111 does; others stay bare. */
    static String quote(String value) {
        if (value.indexOf(',') < 0 && value.indexOf(':') < 0 && value.indexOf('\n') < 0) return value;
        try {
            return Json.MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String unquote(String value) {
        if (value.length() < 2 || value.charAt(0) != '"' || value.charAt(value.length() - 1) != '"') return value;
        try {
            return Json.MAPPER.readValue(value, String.class);
        } catch (JsonProcessingException e) {
            return value; // A1111 keeps a value it cannot decode as it stands
        }
    }

    /** 7 for 7.0, 7.5 for 7.5: the shortest decimal that reads back as the same double. */
    static String formatNumber(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
        return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    /**
     * A1111's "Model hash" (its "AutoV2" hash): the first 10 hex digits of the SHA-256 of the whole
     * checkpoint file, or null for a diffusers folder (A1111 has no hash for those). Reads the whole
     * file (seconds for a multi-GB checkpoint): callers compute it once per loaded model.
     */
    public static String modelHash(Path checkpointFile) {
        if (Files.isDirectory(checkpointFile)) return null;
        try (FileChannel ch = FileChannel.open(checkpointFile, StandardOpenOption.READ)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            long size = ch.size();
            long chunk = 1L << 28;
            for (long pos = 0; pos < size; pos += chunk) {
                sha.update(ch.map(FileChannel.MapMode.READ_ONLY, pos, Math.min(chunk, size - pos)));
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 10);
        } catch (IOException e) {
            throw new JDiffusionException(checkpointFile + ": cannot read for its hash (" + e.getMessage() + ")", e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
    }

    /** The name A1111 shows for a model: the file name without extension, or the folder's name. */
    public static String modelName(Path model) {
        Path name = model.toAbsolutePath().normalize().getFileName();
        if (name == null) return model.toString();
        String s = name.toString();
        if (Files.isDirectory(model)) return s;
        int dot = s.lastIndexOf('.');
        return dot > 0 ? s.substring(0, dot) : s;
    }

    /** "jdiffusion 0.1.0": this build's version, from the jar's Maven metadata ("dev" outside a jar). */
    public static String version() {
        return "jdiffusion " + VersionHolder.VERSION;
    }

    private static final class VersionHolder {
        static final String VERSION = read();

        private static String read() {
            try (InputStream in = Infotext.class.getResourceAsStream(
                    "/META-INF/maven/io.jdiffusion/jdiffusion-core/pom.properties")) {
                if (in == null) return "dev";
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("version", "dev");
            } catch (IOException e) {
                return "dev";
            }
        }
    }
}
