package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.div;
import static io.jdiffusion.sampling.Elementwise.exp;
import static io.jdiffusion.sampling.Elementwise.log;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sub;

/**
 * DPM-Solver-2 (diffusers KDPM2DiscreteScheduler): an Euler step to the geometric midpoint of the
 * current and next sigma, a second evaluation there, and a step over the whole interval with the
 * midpoint's slope. The midpoint evaluations get their own (fractional) timesteps.
 */
final class Dpm2Sampler extends SigmaSampler {
    /** sigma at the midpoint belonging to each entry, like diffusers' sigmas_interpol */
    private final float[] midSigmas;
    private Tensor firstSample;

    Dpm2Sampler(SchedulerConfig config, int steps) {
        super(config, steps, NoiseSchedule.BetaDefaults.LINEAR_DDPM);
        Discrete d = discreteSchedule(KarrasRule.ROUNDED, 0f);
        float[] s = d.sigmas();                 // n + 1, ending with 0
        double[] t = d.timesteps();             // n
        int n = t.length;
        // mid[k] = exp(lerp(log s_k, log s_k-1, 1/2)); mid[n] = 0 (log 0 = -inf); mid[0] is unused
        float[] mid = new float[n + 1];
        for (int k = 0; k <= n; k++) {
            float self = log(s[k]);
            float end = k == 0 ? Float.NEGATIVE_INFINITY : log(s[k - 1]);
            mid[k] = exp(end - (end - self) * 0.5f);
        }
        sigmas = interleave(s);
        midSigmas = interleave(mid);
        float[] logSigmas = NoiseSchedule.logs(schedule.sigmas());
        timesteps = new double[2 * n - 1];
        timesteps[0] = t[0];
        for (int k = 1; k < n; k++) {
            timesteps[2 * k - 1] = Spacing.sigmaToTFloat(mid[k], logSigmas);
            timesteps[2 * k] = t[k];
        }
    }

    /** [a0, a1, a1, a2, a2, ..., an, an, an] as diffusers lays out sigmas and sigmas_interpol. */
    private static float[] interleave(float[] a) {
        float[] out = new float[2 * a.length];
        out[0] = a[0];
        for (int k = 1; k < a.length; k++) {
            out[2 * k - 1] = a[k];
            out[2 * k] = a[k];
        }
        out[out.length - 1] = a[a.length - 1];
        return out;
    }

    @Override
    public int order() {
        return 2;
    }

    @Override
    protected void reset(int beginIndex) {
        firstSample = null;
    }

    @Override
    protected float inputSigma(int index) {
        return firstSample == null ? sigmas[index] : midSigmas[index];
    }

    @Override
    protected Tensor step(Tensor modelOutput, int i, Tensor x, NoiseSource noise) {
        if (firstSample == null) {
            float sigma = sigmas[i];
            float sigmaMid = midSigmas[i + 1];
            Tensor denoised = denoised(modelOutput, x, sigma);
            Tensor derivative = div(sub(x, denoised), sigma);
            float dt = sigmaMid - sigma;
            firstSample = x;
            return add(x, mul(dt, derivative));
        }
        float sigma = sigmas[i - 1];
        float sigmaMid = midSigmas[i];
        float sigmaNext = sigmas[i];
        Tensor denoised = denoised(modelOutput, x, sigmaMid);
        Tensor derivative = div(sub(x, denoised), sigmaMid);
        float dt = sigmaNext - sigma;
        Tensor next = add(firstSample, mul(dt, derivative));
        firstSample = null;
        return next;
    }
}
