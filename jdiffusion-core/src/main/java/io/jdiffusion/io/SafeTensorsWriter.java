package io.jdiffusion.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Weight;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Writes tensors as a .safetensors file (the layout {@link SafeTensors} reads): header in the map's
 * order, padded with spaces to a multiple of 8 bytes so the data section stays aligned, then each
 * tensor's stored bytes, back to back. The file is written under a temporary name beside the target and
 * moved into place at the end, so a reader never sees a half-written file.
 */
public final class SafeTensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK = 1 << 30;

    private SafeTensorsWriter() {
    }

    public static void write(Path file, Map<String, Weight> tensors) {
        write(file, tensors, Map.of());
    }

    public static void write(Path file, Map<String, Weight> tensors, Map<String, String> metadata) {
        byte[] header = header(tensors, metadata);
        AtomicFiles.write(file, ch -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            writeFully(ch, len);
            writeFully(ch, ByteBuffer.wrap(header));
            for (Weight w : tensors.values()) writeSegment(ch, w.data());
        });
    }

    private static byte[] header(Map<String, Weight> tensors, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (var e : tensors.entrySet()) {
            Weight w = e.getValue();
            ObjectNode t = root.putObject(e.getKey());
            t.put("dtype", w.dtype().name());
            ArrayNode shape = t.putArray("shape");
            for (long d : w.shape()) shape.add(d);
            long size = w.data().byteSize();
            t.putArray("data_offsets").add(offset).add(offset + size);
            offset += size;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        for (int i = json.length; i < padded; i++) out[i] = ' ';
        return out;
    }

    private static void writeSegment(FileChannel ch, MemorySegment data) throws IOException {
        for (long off = 0; off < data.byteSize(); off += CHUNK) {
            long n = Math.min(CHUNK, data.byteSize() - off);
            writeFully(ch, data.asSlice(off, n).asByteBuffer());
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
