package io.jdiffusion.tensor;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class Transpose16Test {
    @Test
    void transposesABlockBetweenStridedRows() {
        Assumptions.assumeTrue(Transpose16.FITS, "no 512-bit vectors on this CPU");
        float[] src = new Random32(31).floats(7 + 16 * 70);
        float[] dst = new float[5 + 16 * 40];
        java.util.Arrays.fill(dst, Float.NaN);
        Transpose16.block(src, 7, 70, dst, 5, 40);
        for (int r = 0; r < 16; r++) {
            for (int c = 0; c < 16; c++) assertThat(dst[5 + c * 40 + r]).as("(%d, %d)", r, c).isEqualTo(src[7 + r * 70 + c]);
        }
        // only the block's places were written
        int written = 0;
        for (float v : dst) if (!Float.isNaN(v)) written++;
        assertThat(written).isEqualTo(256);
    }
}
