package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.clamp;
import static io.jdiffusion.sampling.Elementwise.div;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sub;

/**
 * Heun's method (diffusers HeunDiscreteScheduler): an Euler step to the next sigma, then a second
 * evaluation there and the average of both slopes. Every sigma but the first and last appears twice;
 * the last step (to sigma 0) is a plain Euler step.
 */
final class HeunSampler extends SigmaSampler {
    private final boolean clipSample;
    private final float clipRange;
    private Tensor firstDerivative;
    private float firstDt;
    private Tensor firstSample;

    HeunSampler(SchedulerConfig config, int steps) {
        super(config, steps, NoiseSchedule.BetaDefaults.HEUN);
        clipSample = config.boolOr("clip_sample", false);
        clipRange = (float) config.doubleOr("clip_sample_range", 1.0);
        Discrete d = discreteSchedule(KarrasRule.FRACTIONAL, 0f);
        // [s0, s1, s1, ..., s_n-1, s_n-1, 0] and [t0, t1, t1, ..., t_n-1, t_n-1]
        float[] s = d.sigmas();
        double[] t = d.timesteps();
        sigmas = new float[2 * s.length - 2];
        sigmas[0] = s[0];
        for (int k = 1; k < s.length - 1; k++) {
            sigmas[2 * k - 1] = s[k];
            sigmas[2 * k] = s[k];
        }
        sigmas[sigmas.length - 1] = s[s.length - 1];
        timesteps = new double[2 * t.length - 1];
        timesteps[0] = t[0];
        for (int k = 1; k < t.length; k++) {
            timesteps[2 * k - 1] = t[k];
            timesteps[2 * k] = t[k];
        }
    }

    @Override
    public int order() {
        return 2;
    }

    @Override
    protected void reset(int beginIndex) {
        firstDerivative = null;
        firstSample = null;
    }

    @Override
    protected Tensor step(Tensor modelOutput, int i, Tensor x, NoiseSource noise) {
        boolean firstOrder = firstDerivative == null;
        float sigma = firstOrder ? sigmas[i] : sigmas[i - 1];
        float sigmaNext = firstOrder ? sigmas[i + 1] : sigmas[i];
        Tensor denoised = denoised(modelOutput, x, firstOrder ? sigma : sigmaNext);
        if (clipSample) denoised = clamp(denoised, -clipRange, clipRange);
        if (firstOrder) {
            firstDerivative = div(sub(x, denoised), sigma);
            firstDt = sigmaNext - sigma;
            firstSample = x;
            return add(x, mul(firstDt, firstDerivative));
        }
        Tensor derivative = div(sub(x, denoised), sigmaNext);
        derivative = div(add(firstDerivative, derivative), 2f);
        Tensor next = add(firstSample, mul(firstDt, derivative));
        firstDerivative = null;
        firstSample = null;
        return next;
    }
}
