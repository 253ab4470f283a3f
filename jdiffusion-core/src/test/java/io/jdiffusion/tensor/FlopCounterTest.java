package io.jdiffusion.tensor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The FLOP counter on a tiny model: one convolution, one linear layer, one attention, counted by hand. */
class FlopCounterTest {

    @AfterEach
    void off() {
        FlopCounter.disable();
        FlopCounter.reset();
    }

    private static Tensor random(int... shape) {
        SplittableRandom r = new SplittableRandom(7);
        float[] d = new float[Tensor.numel(shape)];
        for (int i = 0; i < d.length; i++) d[i] = (float) r.nextDouble(-1, 1);
        return new Tensor(d, shape);
    }

    private static Weight weight(String name, int... shape) {
        long[] s = new long[shape.length];
        for (int i = 0; i < s.length; i++) s[i] = shape[i];
        return Weight.ofFloats(name, random(shape).data, s);
    }

    /** conv (stride 2, padding 1) → tokens → linear, as a block of a network does it. */
    private static void tinyModel() {
        Tensor x = random(2, 3, 10, 9);
        Tensor h = Ops.conv2d(x, weight("conv.weight", 5, 3, 3, 3), weight("conv.bias", 5), 2, 1);
        Ops.linear(Ops.toTokens(h), weight("proj.weight", 4, 5), weight("proj.bias", 4));
    }

    @Test
    void countsOneConvolutionAndOneLinearLayer() {
        FlopCounter.reset();
        FlopCounter.enable();
        tinyModel();
        FlopCounter.disable();

        // conv: output 5×5 ((10 + 2 − 3) / 2 + 1 = 5, (9 + 2 − 3) / 2 + 1 = 5), each of the 2·5·5·5 outputs a
        // dot product of length 3·3·3: 2 · 2·5 · 3·3·3 · 5·5 = 13 500
        // linear: 2·25 tokens × 4 outputs × 5 inputs, 2 FLOPs each: 2 · 50 · 4 · 5 = 2 000
        FlopCounter.Counts c = FlopCounter.counts();
        assertThat(c.conv()).isEqualTo(13_500);
        assertThat(c.linear()).isEqualTo(2_000);
        assertThat(c.attention()).isZero();
        assertThat(c.total()).isEqualTo(15_500);
    }

    @Test
    void countsAttentionAsItsTwoProducts() {
        FlopCounter.reset();
        FlopCounter.enable();
        // 2 heads of width 3: q·kᵀ is 2·(6 × 7 × 3) per head and batch item, p·v the same
        Ops.attention(random(2, 6, 6), random(2, 7, 6), random(2, 7, 6), 2, false);
        FlopCounter.disable();

        assertThat(FlopCounter.counts().attention()).isEqualTo(2L * 2 * (2 * 6 * 7 * 3 + 2 * 6 * 7 * 3));
    }

    @Test
    void countsNothingWhileDisabled() {
        FlopCounter.reset();
        tinyModel();
        assertThat(FlopCounter.counts().total()).isZero();
    }
}
