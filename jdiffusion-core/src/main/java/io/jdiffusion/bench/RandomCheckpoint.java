package io.jdiffusion.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.bench.OriginalLayout.TensorSpec;
import io.jdiffusion.tensor.Parallel;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Writes a .safetensors file holding the tensors of a layout with random values: the checkpoint the
 * benchmark loads instead of downloading one. The values are a pure function of (seed, tensor index,
 * element index), so a file is the same whatever the thread count. Data goes out through a small
 * reusable buffer: writing does not map the file, so the process's resident memory afterwards counts
 * only what loading and running the model touch.
 */
public final class RandomCheckpoint {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Elements generated per parallel task. */
    private static final int CHUNK = 1 << 16;
    /** Bytes written per call. */
    private static final int BUFFER_BYTES = 8 << 20;
    private static final ValueLayout.OfShort F16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private RandomCheckpoint() {
    }

    /** Writes {@code tensors} to {@code file} (created or replaced). */
    public static void write(Path file, List<TensorSpec> tensors, long seed) {
        byte[] header = header(tensors);
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        MemorySegment seg = MemorySegment.ofBuffer(buffer);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            writeFully(ch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
            writeFully(ch, ByteBuffer.wrap(header));
            for (int t = 0; t < tensors.size(); t++) {
                TensorSpec spec = tensors.get(t);
                long key = mix(seed ^ mix(t + 1));
                long n = spec.numel();
                int window = BUFFER_BYTES / spec.elementBytes();
                for (long from = 0; from < n; from += window) {
                    int count = (int) Math.min(window, n - from);
                    fill(spec, key, from, count, seg);
                    buffer.clear().limit(count * spec.elementBytes());
                    writeFully(ch, buffer);
                }
            }
        } catch (IOException e) {
            throw new JDiffusionException(file + ": cannot write the benchmark checkpoint (" + e.getMessage() + ")");
        }
    }

    /**
     * Writes the header and a data section of zeros, as a sparse file: only the header is written, so even
     * a checkpoint of many gigabytes costs nothing. For checking that a layout's names and shapes load.
     */
    public static void writeZeros(Path file, List<TensorSpec> tensors) {
        byte[] header = header(tensors);
        long dataBytes = 0;
        for (TensorSpec t : tensors) dataBytes += t.byteSize();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            writeFully(ch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
            writeFully(ch, ByteBuffer.wrap(header));
            if (dataBytes > 0) {
                // one byte at the very end sets the length; the hole before it reads as zeros
                ch.position(8 + header.length + dataBytes - 1);
                writeFully(ch, ByteBuffer.allocate(1));
            }
        } catch (IOException e) {
            throw new JDiffusionException(file + ": cannot write (" + e.getMessage() + ")");
        }
    }

    /** The safetensors header (JSON, padded with spaces to a multiple of 8 bytes), tensors in list order. */
    static byte[] header(List<TensorSpec> tensors) {
        ObjectNode root = JSON.createObjectNode();
        root.putObject("__metadata__").put("format", "pt").put("jdiffusion", "random weights for the benchmark");
        long offset = 0;
        for (TensorSpec t : tensors) {
            ObjectNode o = root.putObject(t.name());
            o.put("dtype", t.dtype());
            ArrayNode shape = o.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            o.putArray("data_offsets").add(offset).add(offset + t.byteSize());
            offset += t.byteSize();
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        byte[] padded = new byte[(json.length + 7) / 8 * 8];
        System.arraycopy(json, 0, padded, 0, json.length);
        for (int i = json.length; i < padded.length; i++) padded[i] = ' ';
        return padded;
    }

    /** Elements [from, from + count) of the tensor into the start of {@code out}. */
    private static void fill(TensorSpec spec, long key, long from, int count, MemorySegment out) {
        switch (spec.init()) {
            case POSITIONS -> {
                long last = spec.shape()[spec.shape().length - 1];
                for (int i = 0; i < count; i++) out.set(I64_LE, 8L * i, (from + i) % last);
            }
            case CONSTANT -> {
                short v = Float.floatToFloat16(spec.value());
                for (int i = 0; i < count; i++) out.set(F16_LE, 2L * i, v);
            }
            case UNIFORM -> {
                float bound = spec.value();
                int chunks = (count + CHUNK - 1) / CHUNK;
                Parallel.forRange(chunks, 1, (c0, c1) -> {
                    for (int i = c0 * CHUNK, end = Math.min(count, c1 * CHUNK); i < end; i++) {
                        // 24 random bits → uniform in [-1, 1)
                        float u = (mix(key + from + i) >>> 40) * 0x1.0p-23f - 1f;
                        out.set(F16_LE, 2L * i, Float.floatToFloat16(u * bound));
                    }
                });
            }
        }
    }

    /** SplitMix64's finaliser: a bijection of 64-bit values that scrambles every bit. */
    private static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
