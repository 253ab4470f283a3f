package io.jdiffusion.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.tensor.Weight;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Test checkpoints edited at the byte level: the tensors of a file as (dtype name, shape, bytes), so a test
 * can drop, rename or add tensors, including dtypes the engine does not read (I64, F64), and write the result.
 */
final class RawCheckpoint {
    record Raw(String dtype, long[] shape, byte[] data) {
    }

    private RawCheckpoint() {
    }

    static LinkedHashMap<String, Raw> read(Path file) {
        LinkedHashMap<String, Raw> out = new LinkedHashMap<>();
        for (Map.Entry<String, Weight> e : SafeTensors.open(file).tensors().entrySet()) {
            Weight w = e.getValue();
            out.put(e.getKey(), new Raw(w.dtype().name(), w.shape(), w.data().toArray(ValueLayout.JAVA_BYTE)));
        }
        return out;
    }

    static void write(Path file, Map<String, Raw> tensors) throws IOException {
        ObjectNode header = Json.MAPPER.createObjectNode();
        long offset = 0;
        for (var e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype());
            var shape = t.putArray("shape");
            for (long d : e.getValue().shape()) shape.add(d);
            t.putArray("data_offsets").add(offset).add(offset + e.getValue().data().length);
            offset += e.getValue().data().length;
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(8 + h.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (Raw r : tensors.values()) b.put(r.data());
        Files.write(file, b.array());
    }

    /** A small tensor of zeros, for key sets that only need to exist. */
    static Raw zeros(String dtype, int elementBytes, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return new Raw(dtype, shape, new byte[Math.toIntExact(n * elementBytes)]);
    }
}
