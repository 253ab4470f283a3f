package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class KernelProbeTest {
    @Test
    void measuresWhatItCanAndSaysNaNForTooSmallAWeight() {
        Random32 r = new Random32(5);
        assertThat(KernelProbe.conversionNanos(r.weight(DType.F16, "w", 64, 70))).isPositive().isFinite();
        assertThat(KernelProbe.conversionNanos(r.weight(DType.F16, "tiny", 10))).isNaN();
        assertThat(KernelProbe.kernelGflops()).isPositive().isFinite();
    }
}
