package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.clamp;
import static io.jdiffusion.sampling.Elementwise.div;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sqrt;
import static io.jdiffusion.sampling.Elementwise.sub;

/**
 * DDIM with eta = 0 (diffusers DDIMScheduler as the pipelines call it): estimate x0 and epsilon,
 * then move to the previous timestep deterministically. Draws no noise.
 */
final class DdimSampler extends Sampler {
    private final NoiseSchedule schedule;
    private final float finalAlphaCumprod;
    private final boolean clipSample;
    private final float clipRange;

    DdimSampler(SchedulerConfig config, int steps) {
        super(config, steps);
        schedule = NoiseSchedule.create(config, NoiseSchedule.BetaDefaults.LINEAR_DDPM, false);
        finalAlphaCumprod = config.boolOr("set_alpha_to_one", true) ? 1f : schedule.alphasCumprod[0];
        clipSample = config.boolOr("clip_sample", true);
        clipRange = (float) config.doubleOr("clip_sample_range", 1.0);
        if (config.boolOr("thresholding", false)) {
            throw new JDiffusionException("scheduler config: thresholding is not supported");
        }
        timesteps = integerTimesteps(Spacing.spacing(config, "leading"), schedule.numTrainTimesteps, steps,
                config.intOr("steps_offset", 0));
    }

    /** DDIM's (and DDPM's) integer timesteps, descending. */
    static double[] integerTimesteps(String spacing, int train, int n, int stepsOffset) {
        return switch (spacing) {
            case "linspace" -> {
                double[] t = Spacing.reversed(Spacing.linspace(0, train - 1, n));
                for (int i = 0; i < t.length; i++) t[i] = Spacing.round(t[i]);
                yield t;
            }
            case "leading" -> {
                int ratio = train / n;
                double[] t = new double[n];
                for (int i = 0; i < n; i++) t[i] = (double) (n - 1 - i) * ratio + stepsOffset;
                yield t;
            }
            default -> {
                double[] t = Spacing.arangeDown(train, (double) train / n);
                for (int i = 0; i < t.length; i++) t[i] = Spacing.round(t[i]) - 1;
                yield t;
            }
        };
    }

    @Override
    protected void reset(int beginIndex) {
    }

    @Override
    protected Tensor step(Tensor modelOutput, int i, Tensor x, NoiseSource noise) {
        int t = (int) timesteps[i];
        int prevT = t - schedule.numTrainTimesteps / numInferenceSteps;
        float alphaProd = schedule.alphasCumprod[t];
        float alphaProdPrev = prevT >= 0 ? schedule.alphasCumprod[prevT] : finalAlphaCumprod;
        float betaProd = 1f - alphaProd;

        Tensor predX0, predEps;
        switch (prediction) {
            case EPSILON -> {
                predX0 = div(sub(x, mul(sqrt(betaProd), modelOutput)), sqrt(alphaProd));
                predEps = modelOutput;
            }
            case SAMPLE -> {
                predX0 = modelOutput;
                predEps = div(sub(x, mul(sqrt(alphaProd), predX0)), sqrt(betaProd));
            }
            default -> {
                predX0 = sub(mul(sqrt(alphaProd), x), mul(sqrt(betaProd), modelOutput));
                predEps = add(mul(sqrt(alphaProd), modelOutput), mul(sqrt(betaProd), x));
            }
        }
        if (clipSample) predX0 = clamp(predX0, -clipRange, clipRange);
        // eta = 0: no variance, the direction to x_t-1 carries all of 1 - alpha_prev
        Tensor direction = mul(sqrt(1f - alphaProdPrev), predEps);
        return add(mul(sqrt(alphaProdPrev), predX0), direction);
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int index) {
        return addNoiseAt(schedule.alphasCumprod[(int) timesteps[index]], original, noise);
    }

    /** sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·noise, the DDPM forward process as diffusers' add_noise computes it. */
    static Tensor addNoiseAt(float alphaCumprod, Tensor original, Tensor noise) {
        return add(mul(sqrt(alphaCumprod), original), mul(sqrt(1f - alphaCumprod), noise));
    }
}
