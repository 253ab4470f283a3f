package io.jdiffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.Json;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

/**
 * A small reference safetensors file read whole, for the files that hold int32 tensors (token ids),
 * which the engine's weight reader rightly refuses: F32 tensors as activations, I32 tensors as ints.
 */
final class ReferenceFile {
    private final JsonNode header;
    private final ByteBuffer bytes;
    private final int dataStart;

    private ReferenceFile(JsonNode header, ByteBuffer bytes, int dataStart) {
        this.header = header;
        this.bytes = bytes;
        this.dataStart = dataStart;
    }

    static ReferenceFile open(String fixture) throws IOException {
        byte[] file = Files.readAllBytes(Fixtures.require(fixture));
        ByteBuffer buf = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int headerLen = Math.toIntExact(buf.getLong(0));
        JsonNode header = Json.MAPPER.readTree(new String(file, 8, headerLen, StandardCharsets.UTF_8));
        return new ReferenceFile(header, buf, 8 + headerLen);
    }

    private JsonNode info(String name, String dtype) {
        JsonNode info = header.get(name);
        if (info == null) throw new AssertionError("reference has no tensor " + name);
        if (!info.get("dtype").asText().equals(dtype)) throw new AssertionError(name + " is " + info.get("dtype") + ", not " + dtype);
        return info;
    }

    private static int[] shape(JsonNode info) {
        int[] s = new int[info.get("shape").size()];
        for (int i = 0; i < s.length; i++) s[i] = info.get("shape").get(i).asInt();
        return s;
    }

    Tensor floats(String name) {
        JsonNode info = info(name, "F32");
        int[] shape = shape(info);
        float[] v = new float[Tensor.numel(shape)];
        int start = dataStart + info.get("data_offsets").get(0).asInt();
        for (int i = 0; i < v.length; i++) v[i] = bytes.getFloat(start + 4 * i);
        return new Tensor(v, shape);
    }

    /** A 2-D int32 tensor as rows. */
    int[][] intRows(String name) {
        JsonNode info = info(name, "I32");
        int[] shape = shape(info);
        int start = dataStart + info.get("data_offsets").get(0).asInt();
        int[][] rows = new int[shape[0]][shape[1]];
        for (int r = 0; r < shape[0]; r++) {
            for (int c = 0; c < shape[1]; c++) rows[r][c] = bytes.getInt(start + 4 * (r * shape[1] + c));
        }
        return rows;
    }
}
