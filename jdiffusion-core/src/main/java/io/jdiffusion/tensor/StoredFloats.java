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

/** Vectorised conversion of stored 16-bit floats (IEEE half, bfloat16) to float32. */
final class StoredFloats {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** As many 16-bit lanes as F has float lanes. */
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private StoredFloats() {
    }

    /** {@code count} halves starting at byte {@code byteOff} of {@code seg} → dst[off ..]. Exact, subnormals and inf/NaN included. */
    static void halfToFloat(MemorySegment seg, long byteOff, float[] dst, int off, int count) {
        int i = 0;
        int step = F.length();
        for (; i <= count - step; i += step) {
            ShortVector h = ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, ByteOrder.LITTLE_ENDIAN);
            IntVector x = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
            // exponent and mantissa moved into float32's fields; scaling by 2^112 rebiases the exponent
            // (15 → 127) and turns half subnormals into the right normal floats, exactly
            IntVector mag = x.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
            IntVector bits = mag.reinterpretAsFloats().mul(0x1.0p112f).reinterpretAsInts();
            VectorMask<Integer> infOrNan = x.and(0x7c00).compare(VectorOperators.EQ, 0x7c00);
            bits = bits.blend(mag.or(0x7f800000), infOrNan);
            bits = bits.or(x.and(0x8000).lanewise(VectorOperators.LSHL, 16));
            bits.reinterpretAsFloats().intoArray(dst, off + i);
        }
        for (; i < count; i++) dst[off + i] = Float.float16ToFloat(seg.get(I16_LE, byteOff + 2L * i));
    }

    /** {@code count} bfloat16 values starting at byte {@code byteOff} of {@code seg} → dst[off ..]. */
    static void bf16ToFloat(MemorySegment seg, long byteOff, float[] dst, int off, int count) {
        int i = 0;
        int step = F.length();
        for (; i <= count - step; i += step) {
            ShortVector h = ShortVector.fromMemorySegment(H, seg, byteOff + 2L * i, ByteOrder.LITTLE_ENDIAN);
            IntVector x = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
            x.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, off + i);
        }
        for (; i < count; i++) dst[off + i] = DType.bf16ToFloat(seg.get(I16_LE, byteOff + 2L * i));
    }
}
