package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class OpsTest {
    @Test
    void linearMatchesTheNaiveLinear() {
        Random32 r = new Random32(31);
        // 74 rows: computed as X·Wᵀ; 87 and 180 rows with many outputs: computed transposed (Yᵀ = W·Xᵀ)
        int[][] rowsByOutputs = {{2, 37, 70}, {3, 29, 250}, {3, 60, 400}};
        for (int[] shape : rowsByOutputs) {
            Tensor x = r.tensor(shape[0], shape[1], 131);
            for (DType dtype : DType.values()) {
                Weight w = r.weight(dtype, "proj.weight", shape[2], 131);
                Weight b = r.weight(dtype, "proj.bias", shape[2]);
                Random32.assertClose(Ops.linear(x, w, b), NaiveOps.linear(x, w, b), 1e-5);
                Random32.assertClose(Ops.linear(x, w, null), NaiveOps.linear(x, w, null), 1e-5);
            }
        }
        Tensor one = r.tensor(1, 320);
        Weight w = r.weight(DType.F16, "time_embedding.linear_1.weight", 1280, 320);
        Random32.assertClose(Ops.linear(one, w, null), NaiveOps.linear(one, w, null), 1e-5);
    }

    @Test
    void groupNormWithAndWithoutSilu() {
        Random32 r = new Random32(32);
        // an offset mean, so that the variance is not the mean square
        Tensor x = new Tensor(r.floats(2 * 12 * 7 * 9, 3f), 2, 12, 7, 9);
        Weight g = r.weight(DType.F16, "norm.weight", 12), b = r.weight(DType.F16, "norm.bias", 12);
        for (boolean silu : new boolean[]{false, true}) {
            Random32.assertClose(Ops.groupNorm(x, 4, g, b, 1e-5f, silu), NaiveOps.groupNorm(x, 4, g, b, 1e-5f, silu), 1e-6);
            Random32.assertClose(Ops.groupNorm(x, 12, g, b, 1e-6f, silu), NaiveOps.groupNorm(x, 12, g, b, 1e-6f, silu), 1e-6);
        }
        Tensor big = new Tensor(r.floats(2 * 64 * 33 * 35, -1.5f), 2, 64, 33, 35);
        Weight g2 = r.weight(DType.F32, "norm.weight", 64), b2 = r.weight(DType.F32, "norm.bias", 64);
        Random32.assertClose(Ops.groupNorm(big, 32, g2, b2, 1e-6f, true), NaiveOps.groupNorm(big, 32, g2, b2, 1e-6f, true), 1e-6);
        Tensor vec = r.tensor(3, 10);
        Weight g3 = r.weight(DType.F32, "w", 10), b3 = r.weight(DType.F32, "b", 10);
        Random32.assertClose(Ops.groupNorm(vec, 5, g3, b3, 1e-5f, false), NaiveOps.groupNorm(vec, 5, g3, b3, 1e-5f, false), 1e-6);
    }

    @Test
    void layerNormOfOddWidths() {
        Random32 r = new Random32(33);
        for (int c : new int[]{1, 7, 77, 320, 1283}) {
            Tensor x = new Tensor(r.floats(3 * 5 * c, 0.7f), 3, 5, c);
            Weight g = r.weight(DType.F16, "ln.weight", c), b = r.weight(DType.F16, "ln.bias", c);
            Random32.assertClose(Ops.layerNorm(x, g, b, 1e-5f), NaiveOps.layerNorm(x, g, b, 1e-5f), 1e-6);
        }
    }

    /** Inputs over the whole useful range, tails included, at odd lengths (vector body and scalar tail). */
    private static Tensor wideRange(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = -12f + 24f * i / (n - 1) + (i % 7) * 1e-3f;
        return new Tensor(a, 1, n);
    }

    @Test
    void activationsMatchElementByElement() {
        Tensor x = wideRange(100_003);
        assertElementwise(Ops.silu(x), NaiveOps.silu(x), 2e-6);
        assertElementwise(Ops.quickGelu(x), NaiveOps.quickGelu(x), 2e-6);
        assertElementwise(Ops.gelu(x), NaiveOps.gelu(x), 2e-6);
        Tensor small = new Tensor(new Random32(34).floats(1001), 7, 11, 13);
        assertElementwise(Ops.gelu(small), NaiveOps.gelu(small), 2e-6);
    }

    /**
     * |a − e| ≤ tol·|e| + 1e-12: relative per element, also deep in the tails (the floor because the naive
     * erf rounds erfc below 1e-17 to 0).
     */
    private static void assertElementwise(Tensor actual, Tensor expected, double tol) {
        assertThat(actual.shape).isEqualTo(expected.shape);
        for (int i = 0; i < actual.data.length; i++) {
            float a = actual.data[i], e = expected.data[i];
            if (Math.abs(a - e) > tol * Math.abs(e) + 1e-12) {
                throw new AssertionError("element " + i + ": " + a + " vs " + e);
            }
        }
    }

    @Test
    void gegluHalvesTheLastDim() {
        Random32 r = new Random32(35);
        Tensor x = new Tensor(r.floats(2 * 9 * 2 * 37, 0f), 2, 9, 74);
        for (int i = 0; i < x.data.length; i++) x.data[i] *= 4;
        Tensor y = Ops.geglu(x);
        assertThat(y.shape).containsExactly(2, 9, 37);
        Random32.assertClose(y, NaiveOps.geglu(x), 1e-6);
    }

    @Test
    void upsampleAndAddMatchTheNaiveOnesAtOddSizes() {
        Random32 r = new Random32(21);
        Tensor x = r.tensor(2, 3, 7, 13);
        assertThat(Ops.upsampleNearest2x(x).shape).containsExactly(2, 3, 14, 26);
        assertThat(Ops.upsampleNearest2x(x).data).containsExactly(NaiveOps.upsampleNearest2x(x).data);
        // more than one parallel chunk, not a whole number of them
        Tensor a = r.tensor(3, 70001), b = r.tensor(3, 70001), expected = a.copy();
        NaiveOps.addInPlace(expected, b);
        Ops.addInPlace(a, b);
        assertThat(a.data).containsExactly(expected.data);
    }

    @Test
    void tokensRoundTripAndMatchTheNaiveLayout() {
        Random32 r = new Random32(36);
        Tensor x = r.tensor(2, 37, 9, 7);
        Tensor tokens = Ops.toTokens(x);
        assertThat(tokens.data).isEqualTo(NaiveOps.toTokens(x).data);
        assertThat(tokens.shape).containsExactly(2, 63, 37);
        assertThat(Ops.fromTokens(tokens, 9, 7).data).isEqualTo(x.data);
        assertThat(Ops.fromTokens(tokens, 9, 7).shape).containsExactly(2, 37, 9, 7);
        Tensor big = r.tensor(1, 320, 40, 40);
        assertThat(Ops.toTokens(big).data).isEqualTo(NaiveOps.toTokens(big).data);
    }
}
