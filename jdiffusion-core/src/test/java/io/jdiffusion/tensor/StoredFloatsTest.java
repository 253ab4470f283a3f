package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;

class StoredFloatsTest {
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Every one of the 65536 bit patterns, at an odd offset so that vector and scalar paths both run. */
    private static MemorySegment allPatterns() {
        MemorySegment seg = MemorySegment.ofArray(new byte[2 * 65536 + 2]);
        for (int i = 0; i < 65536; i++) seg.set(I16_LE, 2L + 2L * i, (short) i);
        return seg;
    }

    @Test
    void halfConversionIsExactForEveryBitPattern() {
        MemorySegment seg = allPatterns();
        float[] out = new float[65536 + 3];
        StoredFloats.halfToFloat(seg, 2, out, 3, 65536);
        for (int i = 0; i < 65536; i++) {
            float expected = Float.float16ToFloat((short) i);
            float actual = out[3 + i];
            if (Float.isNaN(expected)) assertThat(actual).as("half %04x", i).isNaN();
            else assertThat(Float.floatToRawIntBits(actual)).as("half %04x", i).isEqualTo(Float.floatToRawIntBits(expected));
        }
    }

    @Test
    void bfloat16ConversionIsExactForEveryBitPattern() {
        MemorySegment seg = allPatterns();
        float[] out = new float[65536];
        StoredFloats.bf16ToFloat(seg, 2, out, 0, 65536);
        for (int i = 0; i < 65536; i++) {
            assertThat(Float.floatToRawIntBits(out[i])).as("bf16 %04x", i).isEqualTo(i << 16);
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
