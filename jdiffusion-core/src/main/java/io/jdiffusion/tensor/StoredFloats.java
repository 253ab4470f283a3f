package io.jdiffusion.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Conversion of stored 16-bit floats (IEEE half, bfloat16) to float32, as plain loops that C2 vectorises
 * itself: {@code Float.float16ToFloat} in a counted loop becomes the CPU's half-to-float instruction
 * (vcvtph2ps), twice as fast as the same conversion written with Vector API bit operations.
 *
 * <p>The values are first copied in bulk into a short[] and converted from there, from any memory. A loop
 * reading a memory-mapped segment directly is faster when C2 compiles it well, but it depends on a profile the
 * warm-up (heap memory) cannot give it: the first mapped weight sent it back through an uncommon trap, and its
 * recompiled form ran at 0.76–0.92 ns per value in most bench processes, 1.3–1.5 in some and 3.7–6.5 in about
 * one in six, which made the whole 256² UNet step 1.7–2× slower. Through the short[], 0.54–0.66 in every
 * process (Zen 4, rows of 64, docs/PERFORMANCE.md).
 *
 * <p>The conversion loop is a method of its own, apart from the bulk copy: compiled inside the copying method
 * after the warm-up (whose Winograd weight transforms convert runs of 72 values from heap memory), the loop ran
 * at 0.55–0.81 ns per value on rows of 384 read from a large weight, against 0.17–0.22 for the same loop before
 * any warm-up; on its own, 0.26–0.29 after the warm-up. The 4² convolutions, whose 14.7 M weights are each used
 * for 32 pixels, spent half their time converting.
 */
final class StoredFloats {
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int CHUNK = 2048;
    private static final ThreadLocal<short[]> BUFFER = ThreadLocal.withInitial(() -> new short[CHUNK]);

    private StoredFloats() {
    }

    /** {@code count} halves starting at byte {@code byteOff} of {@code seg} → dst[off ..]. Exact, subnormals and inf/NaN included. */
    static void halfToFloat(MemorySegment seg, long byteOff, float[] dst, int off, int count) {
        short[] buf = BUFFER.get();
        for (int c0 = 0; c0 < count; c0 += CHUNK) {
            int n = Math.min(CHUNK, count - c0);
            MemorySegment.copy(seg, I16_LE, byteOff + 2L * c0, buf, 0, n);
            halvesToFloats(buf, n, dst, off + c0);
        }
    }

    /** The conversion loop, compiled on its own (see above). */
    private static void halvesToFloats(short[] src, int n, float[] dst, int off) {
        for (int i = 0; i < n; i++) dst[off + i] = Float.float16ToFloat(src[i]);
    }

    /** As {@link #halvesToFloats}, for bfloat16. */
    private static void bf16sToFloats(short[] src, int n, float[] dst, int off) {
        for (int i = 0; i < n; i++) dst[off + i] = DType.bf16ToFloat(src[i]);
    }

    /** {@code count} bfloat16 values starting at byte {@code byteOff} of {@code seg} → dst[off ..]. */
    static void bf16ToFloat(MemorySegment seg, long byteOff, float[] dst, int off, int count) {
        short[] buf = BUFFER.get();
        for (int c0 = 0; c0 < count; c0 += CHUNK) {
            int n = Math.min(CHUNK, count - c0);
            MemorySegment.copy(seg, I16_LE, byteOff + 2L * c0, buf, 0, n);
            bf16sToFloats(buf, n, dst, off + c0);
        }
    }
}
