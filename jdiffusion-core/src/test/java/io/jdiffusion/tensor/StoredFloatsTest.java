package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;

class StoredFloatsTest {
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * Every one of the 65536 bit patterns, from byte 2 on, in heap memory (as the warm-up's weights are) or
     * native memory (as a mapped checkpoint is).
     */
    private static MemorySegment allPatterns(boolean nativeMemory) {
        MemorySegment seg = nativeMemory ? Arena.ofAuto().allocate(2 * 65536 + 2) : MemorySegment.ofArray(new byte[2 * 65536 + 2]);
        for (int i = 0; i < 65536; i++) seg.set(I16_LE, 2L + 2L * i, (short) i);
        return seg;
    }

    @Test
    void halfConversionIsExactForEveryBitPattern() {
        for (boolean nativeMemory : new boolean[]{false, true}) {
            MemorySegment seg = allPatterns(nativeMemory);
            assertThat(seg.isNative()).isEqualTo(nativeMemory);
            // 65533 values: the vector loop and a scalar tail both run
            float[] out = new float[65536 + 3];
            StoredFloats.halfToFloat(seg, 2, out, 3, 65533);
            StoredFloats.halfToFloat(seg, 2 + 2 * 65533, out, 3 + 65533, 3);
            for (int i = 0; i < 65536; i++) {
                float expected = Float.float16ToFloat((short) i);
                float actual = out[3 + i];
                if (Float.isNaN(expected)) assertThat(actual).as("half %04x", i).isNaN();
                else assertThat(Float.floatToRawIntBits(actual)).as("half %04x native %b", i, nativeMemory)
                        .isEqualTo(Float.floatToRawIntBits(expected));
            }
        }
    }

    @Test
    void bfloat16ConversionIsExactForEveryBitPattern() {
        for (boolean nativeMemory : new boolean[]{false, true}) {
            MemorySegment seg = allPatterns(nativeMemory);
            float[] out = new float[65536];
            StoredFloats.bf16ToFloat(seg, 2, out, 0, 65533);
            StoredFloats.bf16ToFloat(seg, 2 + 2 * 65533, out, 65533, 3);
            for (int i = 0; i < 65536; i++) {
                assertThat(Float.floatToRawIntBits(out[i])).as("bf16 %04x native %b", i, nativeMemory).isEqualTo(i << 16);
            }
        }
    }

    @Test
    void weightReadConvertsAnyRange() {
        float[] values = new Random32(5).floats(301, 0.25f);
        for (DType dtype : DType.values()) {
            Weight w = Random32.weight(dtype, "w", values, 7, 43);
            float[] part = new float[100];
            w.read(37, part, 1, 99);
            for (int i = 0; i < 99; i++) assertThat(part[1 + i]).isEqualTo(w.get(37 + i));
        }
    }
}
