package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Vectorised element-wise activations over float arrays, and the reductions the norms need. */
final class Pointwise {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private Pointwise() {
    }

    /** Elements per parallel chunk of an element-wise pass (big enough to amortise a task). */
    static final int CHUNK = 1 << 15;

    enum Activation {
        NONE, SILU, GELU, QUICK_GELU
    }

    /**
     * dst[dOff + i] = f(src[sOff + i]) for i below n (src and dst may be the same array). The last few
     * elements go through the same vector code, masked: an element's value must not depend on whether it
     * falls in a tail (a tensor's end, or a thread's share of it), or a batch would not give each of its
     * items exactly what they give alone. One loop per
     * activation, each in its own method: C2 stops inlining once a method's graph reaches a node budget
     * (NodeCountInliningCutoff), and the Vector API's operations are large graphs, so a loop that could run
     * any of the activations would leave exp as a real call, boxing every vector (some 20× slower).
     */
    static void apply(Activation f, float[] src, int sOff, float[] dst, int dOff, int n) {
        switch (f) {
            case NONE -> System.arraycopy(src, sOff, dst, dOff, n);
            case SILU -> applySilu(src, sOff, dst, dOff, n);
            case GELU -> applyGelu(src, sOff, dst, dOff, n);
            case QUICK_GELU -> applyQuickGelu(src, sOff, dst, dOff, n);
        }
    }

    private static void applySilu(float[] src, int sOff, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) silu(FloatVector.fromArray(S, src, sOff + i)).intoArray(dst, dOff + i);
        if (i < n) {
            VectorMask<Float> tail = S.indexInRange(i, n);
            silu(FloatVector.fromArray(S, src, sOff + i, tail)).intoArray(dst, dOff + i, tail);
        }
    }

    private static void applyGelu(float[] src, int sOff, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) gelu(FloatVector.fromArray(S, src, sOff + i)).intoArray(dst, dOff + i);
        if (i < n) {
            VectorMask<Float> tail = S.indexInRange(i, n);
            gelu(FloatVector.fromArray(S, src, sOff + i, tail)).intoArray(dst, dOff + i, tail);
        }
    }

    private static void applyQuickGelu(float[] src, int sOff, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) quickGelu(FloatVector.fromArray(S, src, sOff + i)).intoArray(dst, dOff + i);
        if (i < n) {
            VectorMask<Float> tail = S.indexInRange(i, n);
            quickGelu(FloatVector.fromArray(S, src, sOff + i, tail)).intoArray(dst, dOff + i, tail);
        }
    }

    /** x·sigmoid(x); for very negative x, e^−x saturates near 1.7e38 and the result is a tiny negative number. */
    static FloatVector silu(FloatVector x) {
        return x.div(VectorMath.exp(x.neg()).add(1f));
    }

    static float silu(float x) {
        return x / (1f + (float) Math.exp(-x));
    }

    /** CLIP's quick GELU: x·sigmoid(1.702x). */
    static FloatVector quickGelu(FloatVector x) {
        return x.div(VectorMath.exp(x.mul(-1.702f)).add(1f));
    }

    /**
     * Q(t) of erfc(z) = t·exp(Q(t) − z²), t = 1/(1 + z/2), lowest degree first: a least-squares fit of ours
     * (tools/fit_erfc.py) with relative error below 6e-8 for every z ≥ 0.
     */
    private static final float[] ERFC_Q = {
            -1.2654822745682728f, 0.9993480783186981f, 0.3803541215658479f, 0.06523265167197947f,
            -0.0902556612311137f, 0.09432143241055947f, -0.9097406797941968f, 1.3186529550249313f,
            -0.750181579872966f, 0.15775101415253923f};
    private static final float INV_SQRT2 = (float) (1 / Math.sqrt(2));

    /**
     * GELU with the exact erf, as torch's default: x·Φ(x) = ½x·(1 + erf(x/√2)). With E = erfc(|x|/√2),
     * 1 + erf is 2 − E for x ≥ 0 and E for x &lt; 0, so both tails keep full relative precision.
     */
    static FloatVector gelu(FloatVector x) {
        FloatVector z = x.abs().mul(INV_SQRT2);
        FloatVector t = z.fma(0.5f, 1f);
        t = FloatVector.broadcast(S, 1f).div(t);
        FloatVector q = FloatVector.broadcast(S, ERFC_Q[ERFC_Q.length - 1]);
        for (int i = ERFC_Q.length - 2; i >= 0; i--) q = q.fma(t, FloatVector.broadcast(S, ERFC_Q[i]));
        FloatVector e = t.mul(VectorMath.exp(q.sub(z.mul(z))));
        FloatVector onePlusErf = e.neg().add(2f).blend(e, x.compare(VectorOperators.LT, 0f));
        return x.mul(0.5f).mul(onePlusErf);
    }

    static float gelu(float x) {
        float z = Math.abs(x) * INV_SQRT2;
        float t = 1f / (1f + 0.5f * z);
        float q = ERFC_Q[ERFC_Q.length - 1];
        for (int i = ERFC_Q.length - 2; i >= 0; i--) q = q * t + ERFC_Q[i];
        float e = t * (float) Math.exp(q - z * z);
        return 0.5f * x * (x < 0 ? e : 2f - e);
    }

    /** dst[dOff + i] = a[aOff + i] · gelu(g[gOff + i]) for i below n. */
    static void mulGelu(float[] a, int aOff, float[] g, int gOff, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, a, aOff + i).mul(gelu(FloatVector.fromArray(S, g, gOff + i))).intoArray(dst, dOff + i);
        }
        for (; i < n; i++) dst[dOff + i] = a[aOff + i] * gelu(g[gOff + i]);
    }

    /**
     * Σ a[off .. off+n) in double, accumulated in float vectors over short blocks (a block's float sum
     * stays accurate; blocks are added in double).
     */
    static double sum(float[] a, int off, int n) {
        double total = 0;
        int i = 0;
        while (n - i >= 4 * L) {
            int end = Math.min(n - 4 * L + 1, i + 1024);
            FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
            for (; i < end; i += 4 * L) {
                s0 = s0.add(FloatVector.fromArray(S, a, off + i));
                s1 = s1.add(FloatVector.fromArray(S, a, off + i + L));
                s2 = s2.add(FloatVector.fromArray(S, a, off + i + 2 * L));
                s3 = s3.add(FloatVector.fromArray(S, a, off + i + 3 * L));
            }
            total += VectorMath.sumLanes(s0.add(s1).add(s2.add(s3)));
        }
        for (; i < n; i++) total += a[off + i];
        return total;
    }

    /** Σ (a[i] − mean)² over a[off .. off+n), blocked like {@link #sum}. */
    static double sumSquaredDeviations(float[] a, int off, int n, float mean) {
        double total = 0;
        int i = 0;
        while (n - i >= 4 * L) {
            int end = Math.min(n - 4 * L + 1, i + 1024);
            FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
            for (; i < end; i += 4 * L) {
                FloatVector d0 = FloatVector.fromArray(S, a, off + i).sub(mean);
                FloatVector d1 = FloatVector.fromArray(S, a, off + i + L).sub(mean);
                FloatVector d2 = FloatVector.fromArray(S, a, off + i + 2 * L).sub(mean);
                FloatVector d3 = FloatVector.fromArray(S, a, off + i + 3 * L).sub(mean);
                s0 = d0.fma(d0, s0);
                s1 = d1.fma(d1, s1);
                s2 = d2.fma(d2, s2);
                s3 = d3.fma(d3, s3);
            }
            total += VectorMath.sumLanes(s0.add(s1).add(s2.add(s3)));
        }
        for (; i < n; i++) {
            double d = a[off + i] - mean;
            total += d * d;
        }
        return total;
    }

    /** dst[dOff + i] = f((src[sOff + i] − mean)·scale + shift) for i below n (one loop per activation, as in {@link #apply}). */
    static void normalize(float[] src, int sOff, float[] dst, int dOff, int n, float mean, float scale, float shift, Activation f) {
        switch (f) {
            case NONE -> normalizePlain(src, sOff, dst, dOff, n, mean, scale, shift);
            case SILU -> normalizeSilu(src, sOff, dst, dOff, n, mean, scale, shift);
            default -> {
                normalizePlain(src, sOff, dst, dOff, n, mean, scale, shift);
                apply(f, dst, dOff, dst, dOff, n);
            }
        }
    }

    private static void normalizePlain(float[] src, int sOff, float[] dst, int dOff, int n, float mean, float scale, float shift) {
        int i = 0;
        for (; i <= n - L; i += L) FloatVector.fromArray(S, src, sOff + i).sub(mean).fma(scale, shift).intoArray(dst, dOff + i);
        for (; i < n; i++) dst[dOff + i] = (src[sOff + i] - mean) * scale + shift;
    }

    private static void normalizeSilu(float[] src, int sOff, float[] dst, int dOff, int n, float mean, float scale, float shift) {
        int i = 0;
        for (; i <= n - L; i += L) silu(FloatVector.fromArray(S, src, sOff + i).sub(mean).fma(scale, shift)).intoArray(dst, dOff + i);
        for (; i < n; i++) dst[dOff + i] = silu((src[sOff + i] - mean) * scale + shift);
    }

    /** dst[dOff + i] = (src[sOff + i] − mean)·inv·gamma[i] + beta[i] (layer norm of one row). */
    static void normalizeAffine(float[] src, int sOff, float[] dst, int dOff, int n, float mean, float inv, float[] gamma, float[] beta) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector g = FloatVector.fromArray(S, gamma, i);
            FloatVector v = FloatVector.fromArray(S, src, sOff + i).sub(mean).mul(inv);
            v.fma(g, FloatVector.fromArray(S, beta, i)).intoArray(dst, dOff + i);
        }
        for (; i < n; i++) dst[dOff + i] = (src[sOff + i] - mean) * inv * gamma[i] + beta[i];
    }
}
