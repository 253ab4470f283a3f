package io.jdiffusion.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One stored tensor of a checkpoint, in its stored dtype, over memory that is usually a mapped file
 * (never copied). Row-major, contiguous. Readers convert to float32 as they go.
 */
public record Weight(String name, DType dtype, long[] shape, MemorySegment data) {
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public Weight {
        long n = numel(shape);
        if (data.byteSize() != n * dtype.bytes) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for shape "
                    + Arrays.toString(shape) + " of " + dtype);
        }
    }

    /** A float32 weight over an on-heap array (tests, converted tensors, weights built in memory). */
    public static Weight ofFloats(String name, float[] values, long... shape) {
        MemorySegment seg = MemorySegment.ofArray(new byte[values.length * 4]);
        MemorySegment.copy(values, 0, seg, F32_LE, 0, values.length);
        return new Weight(name, DType.F32, shape, seg);
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    public long numel() {
        return numel(shape);
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return Math.toIntExact(shape[i < 0 ? shape.length + i : i]);
    }

    /** Element i (flat index) as float32. */
    public float get(long i) {
        return switch (dtype) {
            case F32 -> data.get(F32_LE, i * 4);
            case F16 -> Float.float16ToFloat(data.get(I16_LE, i * 2));
            case BF16 -> DType.bf16ToFloat(data.get(I16_LE, i * 2));
        };
    }

    /** Converts {@code count} elements starting at flat index {@code from} into {@code dst[dstOff..]}. */
    public void read(long from, float[] dst, int dstOff, int count) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, F32_LE, from * 4, dst, dstOff, count);
            case F16 -> StoredFloats.halfToFloat(data, from * 2, dst, dstOff, count);
            case BF16 -> StoredFloats.bf16ToFloat(data, from * 2, dst, dstOff, count);
        }
    }

    /**
     * Drops this weight's pages of a memory-mapped file from the process's resident memory (the OS keeps
     * them in its file cache, and the next read maps them back in); nothing for weights held in memory.
     */
    public void releasePages() {
        if (data.isMapped()) data.unload();
    }

    /** The whole tensor as a new float32 array (for small tensors: norms, biases, embeddings rows). */
    public float[] toFloats() {
        float[] out = new float[Math.toIntExact(numel())];
        read(0, out, 0, out.length);
        return out;
    }

    /** The same bytes seen with another shape of the same element count (e.g. a 1x1 conv as a matrix). */
    public Weight reshape(String newName, long... newShape) {
        if (numel(newShape) != numel()) throw new IllegalArgumentException("reshape " + name + " to " + Arrays.toString(newShape));
        return new Weight(newName, dtype, newShape, data);
    }

    /** Rows [from, from+count) along dim 0, without copying (splits a fused q/k/v projection). */
    public Weight sliceRows(String newName, long from, long count) {
        long rowElems = numel() / shape[0];
        long[] s = shape.clone();
        s[0] = count;
        return new Weight(newName, dtype, s, data.asSlice(from * rowElems * dtype.bytes, count * rowElems * dtype.bytes));
    }

    /** Shape, for messages. */
    public String shapeString() {
        return Arrays.toString(shape);
    }
}
