package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

/**
 * The few elementwise float32 operations the samplers are written in. Each one rounds to float32 once
 * per element, like one torch operation, so a sampler written as the same sequence of operations as
 * its diffusers scheduler computes the same values.
 */
final class Elementwise {
    private Elementwise() {
    }

    static Tensor add(Tensor a, Tensor b) {
        float[] o = new float[a.data.length];
        for (int i = 0; i < o.length; i++) o[i] = a.data[i] + b.data[i];
        return new Tensor(o, a.shape);
    }

    static Tensor sub(Tensor a, Tensor b) {
        float[] o = new float[a.data.length];
        for (int i = 0; i < o.length; i++) o[i] = a.data[i] - b.data[i];
        return new Tensor(o, a.shape);
    }

    /** c · x */
    static Tensor mul(float c, Tensor x) {
        float[] o = new float[x.data.length];
        for (int i = 0; i < o.length; i++) o[i] = c * x.data[i];
        return new Tensor(o, x.shape);
    }

    /** x / c, a true division as torch does it (not a multiplication by 1/c). */
    static Tensor div(Tensor x, float c) {
        float[] o = new float[x.data.length];
        for (int i = 0; i < o.length; i++) o[i] = x.data[i] / c;
        return new Tensor(o, x.shape);
    }

    static Tensor clamp(Tensor x, float lo, float hi) {
        float[] o = new float[x.data.length];
        for (int i = 0; i < o.length; i++) o[i] = Math.min(Math.max(x.data[i], lo), hi);
        return new Tensor(o, x.shape);
    }

    // torch 0-dim float32 scalar functions (correctly rounded here; torch's are within an ulp)

    /** alpha_t = 1/sqrt(σ² + 1) of the variance-preserving process at sigma σ (its sigma_t is σ·alpha_t). */
    static float alphaOf(float sigma) {
        return 1f / sqrt(sigma * sigma + 1f);
    }

    /** The log-SNR λ = log alpha_t − log sigma_t at sigma σ (the multistep solvers' time variable). */
    static float lambdaOf(float sigma) {
        float alpha = alphaOf(sigma);
        return log(alpha) - log(sigma * alpha);
    }

    static float sqrt(float x) {
        return (float) Math.sqrt(x);
    }

    static float log(float x) {
        return (float) Math.log(x);
    }

    static float exp(float x) {
        return (float) Math.exp(x);
    }

    static float expm1(float x) {
        return (float) Math.expm1(x);
    }
}
