package io.jdiffusion.sampling;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PhiloxRandomTest {

    @Test
    void seedZeroGivesA1111sPublishedValues() {
        // shared/docs/NOISE.md: A1111's NV source, seed 0
        float[] got = new PhiloxRandom(0).randn(4);
        assertThat(got).containsExactly(-0.9246624f, -0.42534396f, -2.6438458f, 0.14518388f);
    }

    @Test
    void valuesDoNotDependOnTheCallSizeButEachCallAdvances() {
        PhiloxRandom a = new PhiloxRandom(1234);
        float[] first = a.randn(16);
        float[] second = a.randn(16);
        float[] prefix = new PhiloxRandom(1234).randn(4);
        assertThat(java.util.Arrays.copyOf(first, 4)).containsExactly(prefix);
        assertThat(second).isNotEqualTo(first);
    }
}
