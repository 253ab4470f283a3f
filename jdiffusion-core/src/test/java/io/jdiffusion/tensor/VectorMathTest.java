package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class VectorMathTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private static float[] exp(float[] x) {
        float[] out = new float[x.length];
        int i = 0;
        for (; i + S.length() <= x.length; i += S.length()) VectorMath.exp(FloatVector.fromArray(S, x, i)).intoArray(out, i);
        for (; i < x.length; i++) {
            float[] one = new float[S.length()];
            one[0] = x[i];
            out[i] = VectorMath.exp(FloatVector.fromArray(S, one, 0)).lane(0);
        }
        return out;
    }

    @Test
    void expIsWithinAFewUlpOfTheExactValueOverTheWholeRange() {
        SplittableRandom random = new SplittableRandom(7);
        float[] x = new float[100_003];
        for (int i = 0; i < x.length; i++) x[i] = (float) (random.nextDouble() * 175.0 - 87.0);
        float[] y = exp(x);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            double exact = Math.exp(x[i]);
            worst = Math.max(worst, Math.abs(y[i] - exact) / exact);
        }
        assertThat(worst).isLessThan(2.5e-7);
    }

    @Test
    void expHandlesTheEdges() {
        float[] y = exp(new float[]{0f, Float.NEGATIVE_INFINITY, -100f, -87.5f, 1f, -1f, 88.7f, 200f});
        assertThat(y[0]).isEqualTo(1f);
        assertThat(y[1]).isZero();
        assertThat(y[2]).isZero();
        assertThat(y[3]).isZero();
        assertThat((double) y[4]).isCloseTo(Math.E, org.assertj.core.data.Offset.offset(1e-6));
        assertThat((double) y[5]).isCloseTo(1 / Math.E, org.assertj.core.data.Offset.offset(1e-7));
        assertThat(y[6]).isFinite().isGreaterThan(1e38f);
        assertThat(y[7]).isFinite().isGreaterThan(1e38f);
    }

    private static float[] exp2NonPositive(float[] x) {
        float[] padded = java.util.Arrays.copyOf(x, (x.length + S.length() - 1) / S.length() * S.length());
        float[] out = new float[padded.length];
        for (int i = 0; i < padded.length; i += S.length()) {
            VectorMath.exp2NonPositive(FloatVector.fromArray(S, padded, i)).intoArray(out, i);
        }
        return java.util.Arrays.copyOf(out, x.length);
    }

    @Test
    void exp2OfNonPositiveExponentsIsWithinAFewUlp() {
        SplittableRandom random = new SplittableRandom(11);
        float[] x = new float[100_003];
        for (int i = 0; i < x.length; i++) x[i] = (float) (-random.nextDouble() * 125.9);
        float[] y = exp2NonPositive(x);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            double exact = Math.pow(2, x[i]);
            worst = Math.max(worst, Math.abs(y[i] - exact) / exact);
        }
        assertThat(worst).isLessThan(2.5e-7);
    }

    @Test
    void exp2OfNonPositiveExponentsAtTheEdges() {
        float[] y = exp2NonPositive(new float[]{0f, -1f, -0.5f, -20.25f, Float.NEGATIVE_INFINITY, -300f});
        assertThat(y[0]).isEqualTo(1f);
        assertThat(y[1]).isEqualTo(0.5f);
        assertThat((double) y[2]).isCloseTo(Math.sqrt(0.5), org.assertj.core.data.Offset.offset(1e-7));
        assertThat((double) y[3]).isCloseTo(Math.pow(2, -20.25), org.assertj.core.data.Offset.offset(1e-13));
        // far below the range: the smallest normal float, not NaN or infinity
        assertThat(y[4]).isBetween(0f, 2e-38f);
        assertThat(y[5]).isBetween(0f, 2e-38f);
    }

    @Test
    void sumLanesAddsEveryLane() {
        float[] v = new float[S.length()];
        double expected = 0;
        for (int i = 0; i < v.length; i++) {
            v[i] = 1.5f * i - 3.25f;
            expected += v[i];
        }
        assertThat(VectorMath.sumLanes(FloatVector.fromArray(S, v, 0))).isEqualTo(expected);
    }
}
