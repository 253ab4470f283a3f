package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Vectorised conversion of stored 16-bit floats (IEEE half, bfloat16) to float32. From native memory (a
 * memory-mapped checkpoint) vectors are loaded straight from the segment. From heap memory the values are
 * first copied in bulk into a short[] and converted from there: loading vectors straight from a heap
 * segment is not intrinsified (it fell back to a lane-by-lane loop).
 */
final class StoredFloats {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** As many 16-bit lanes as F has float lanes. */
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int CHUNK = 2048;
    private static final ThreadLocal<short[]> BUFFER = ThreadLocal.withInitial(() -> new short[CHUNK]);

    private StoredFloats() {
    }

    /** {@code count} halves starting at byte {@code byteOff} of {@code seg} → dst[off ..]. Exact, subnormals and inf/NaN included. */
    static void halfToFloat(MemorySegment seg, long byteOff, float[] dst, int off, int count) {
        if (seg.isNative()) {
            // a mapped checkpoint: vectors loaded straight from it (intrinsified for native memory), which
            // spares the bulk copy's per-call checks, most of the cost for the short rows a GEMM block reads
            int step = F.length(), i = 0;
            for (; i <= count - step; i += step) {
                ShortVector h = ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, ByteOrder.LITTLE_ENDIAN);
                halfToFloat(h).intoArray(dst, off + i);
            }
            for (; i < count; i++) dst[off + i] = Float.float16ToFloat(seg.get(I16_LE, byteOff + 2L * i));
            return;
        }
        short[] buf = BUFFER.get();
        for (int c0 = 0; c0 < count; c0 += CHUNK) {
            int n = Math.min(CHUNK, count - c0);
            MemorySegment.copy(seg, I16_LE, byteOff + 2L * c0, buf, 0, n);
            halfToFloat(buf, n, dst, off + c0);
        }
    }

    private static void halfToFloat(short[] src, int n, float[] dst, int off) {
        int i = 0;
        for (int step = F.length(); i <= n - step; i += step) {
            halfToFloat(ShortVector.fromArray(H, src, i)).intoArray(dst, off + i);
        }
        for (; i < n; i++) dst[off + i] = Float.float16ToFloat(src[i]);
    }

    /** The halves of h as floats, exactly. */
    private static FloatVector halfToFloat(ShortVector h) {
        IntVector x = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        // exponent and mantissa moved into float32's fields; scaling by 2^112 rebiases the exponent
        // (15 → 127) and turns half subnormals into the right normal floats, exactly
        IntVector mag = x.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        IntVector bits = mag.reinterpretAsFloats().mul(0x1.0p112f).reinterpretAsInts();
        VectorMask<Integer> infOrNan = x.and(0x7c00).compare(VectorOperators.EQ, 0x7c00);
        bits = bits.blend(mag.or(0x7f800000), infOrNan);
        bits = bits.or(x.and(0x8000).lanewise(VectorOperators.LSHL, 16));
        return bits.reinterpretAsFloats();
    }

    /** {@code count} bfloat16 values starting at byte {@code byteOff} of {@code seg} → dst[off ..]. */
    static void bf16ToFloat(MemorySegment seg, long byteOff, float[] dst, int off, int count) {
        if (seg.isNative()) {
            // as in halfToFloat: vectors straight from native memory
            int step = F.length(), i = 0;
            for (; i <= count - step; i += step) {
                bf16ToFloat(ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, ByteOrder.LITTLE_ENDIAN)).intoArray(dst, off + i);
            }
            for (; i < count; i++) dst[off + i] = DType.bf16ToFloat(seg.get(I16_LE, byteOff + 2L * i));
            return;
        }
        short[] buf = BUFFER.get();
        for (int c0 = 0; c0 < count; c0 += CHUNK) {
            int n = Math.min(CHUNK, count - c0);
            MemorySegment.copy(seg, I16_LE, byteOff + 2L * c0, buf, 0, n);
            int i = 0;
            for (int step = F.length(); i <= n - step; i += step) {
                bf16ToFloat(ShortVector.fromArray(H, buf, i)).intoArray(dst, off + c0 + i);
            }
            for (; i < n; i++) dst[off + c0 + i] = DType.bf16ToFloat(buf[i]);
        }
    }

    /** The bfloat16 values of h as floats: their bits are a float's upper half. */
    private static FloatVector bf16ToFloat(ShortVector h) {
        IntVector x = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        return x.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }
}
