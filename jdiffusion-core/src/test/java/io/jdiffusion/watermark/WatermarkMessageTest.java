package io.jdiffusion.watermark;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class WatermarkMessageTest {

    @Test
    void bytesBecomeBitsMostSignificantFirstAndPackBack() {
        WatermarkMessage m = WatermarkMessage.ofText("S");
        assertThat(WatermarkMessage.binary(m.bits())).isEqualTo(Integer.toBinaryString(0x100 | 'S').substring(1));
        assertThat(WatermarkMessage.pack(WatermarkMessage.STABLE_DIFFUSION_V1.bits())).isEqualTo("StableDiffusionV1".getBytes());
        assertThat(WatermarkMessage.hex(WatermarkMessage.ofBinary("x", "1000000011").bits())).isEqualTo("80c0");
    }

    @Test
    void matchingCountsAgreeingBits() {
        WatermarkMessage m = WatermarkMessage.ofBinary("m", "1100");
        assertThat(m.matchingBits(new boolean[]{true, false, false, true})).isEqualTo(2);
        assertThatThrownBy(() -> m.matchingBits(new boolean[3])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> WatermarkMessage.ofBinary("m", "102")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void chanceIsTheBinomialTail() {
        assertThat(WatermarkCheck.chanceOfAtLeast(0, 48)).isEqualTo(1.0);
        assertThat(WatermarkCheck.chanceOfAtLeast(48, 48)).isEqualTo(Math.pow(2, -48));
        assertThat(WatermarkCheck.chanceOfAtLeast(2, 3)).isEqualTo(0.5); // {011, 101, 110, 111} of 8
        for (int k = 1; k <= 136; k++) { // P(X >= k) + P(X <= k - 1) = 1, and P(X <= k - 1) = P(X >= 137 - k) by symmetry
            assertThat(WatermarkCheck.chanceOfAtLeast(k, 136) + WatermarkCheck.chanceOfAtLeast(137 - k, 136)).isCloseTo(1.0, within(1e-12));
        }
    }

    @Test
    void verdicts() {
        WatermarkMessage m = WatermarkMessage.ofBinary("m", "1".repeat(48));
        boolean[] read = new boolean[48];
        java.util.Arrays.fill(read, true);
        assertThat(WatermarkCheck.of(m, read).verdict()).isEqualTo(WatermarkCheck.Verdict.FOUND);
        java.util.Arrays.fill(read, 0, 8, false);
        assertThat(WatermarkCheck.of(m, read).verdict()).isEqualTo(WatermarkCheck.Verdict.LIKELY); // 40 of 48: chance 1.5e-6
        java.util.Arrays.fill(read, 0, 24, false);
        assertThat(WatermarkCheck.of(m, read).verdict()).isEqualTo(WatermarkCheck.Verdict.NOT_FOUND);
    }
}
