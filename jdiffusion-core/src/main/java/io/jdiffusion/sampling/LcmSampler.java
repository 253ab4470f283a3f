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
 * Latent consistency sampling (diffusers LCMScheduler): at each timestep the network's x0 estimate,
 * blended with the input by the consistency boundary scalings c_skip / c_out, is the denoised result;
 * every step but the last noises it again to the next timestep with a fresh standard-normal draw.
 */
final class LcmSampler extends Sampler {
    private static final float SIGMA_DATA = 0.5f;
    private final NoiseSchedule schedule;
    private final float finalAlphaCumprod;
    private final float timestepScaling;
    private final boolean clipSample;
    private final float clipRange;

    LcmSampler(SchedulerConfig config, int steps) {
        super(config, steps);
        if (config.boolOr("thresholding", false)) {
            throw new JDiffusionException("scheduler config: thresholding is not supported");
        }
        schedule = NoiseSchedule.create(config, NoiseSchedule.BetaDefaults.LCM, false);
        finalAlphaCumprod = config.boolOr("set_alpha_to_one", true) ? 1f : schedule.alphasCumprod[0];
        timestepScaling = (float) config.doubleOr("timestep_scaling", 10.0);
        clipSample = config.boolOr("clip_sample", false);
        clipRange = (float) config.doubleOr("clip_sample_range", 1.0);

        // the distillation schedule: original_inference_steps evenly spaced timesteps ending at T-1,
        // of which `steps` are taken at evenly spaced (floored) positions
        int train = schedule.numTrainTimesteps;
        int original = config.intOr("original_inference_steps", 50);
        if (original > train) {
            throw new JDiffusionException("scheduler config: original_inference_steps " + original
                    + " exceeds num_train_timesteps " + train);
        }
        if (steps > original) {
            throw new JDiffusionException("the lcm sampler takes at most original_inference_steps = "
                    + original + " steps, got " + steps);
        }
        int k = train / original;
        int[] origin = new int[original];           // descending
        for (int i = 0; i < original; i++) origin[i] = (original - i) * k - 1;
        double[] positions = new double[steps];
        for (int i = 0; i < steps; i++) positions[i] = i * ((double) original / steps);
        timesteps = new double[steps];
        for (int i = 0; i < steps; i++) timesteps[i] = origin[(int) Math.floor(positions[i])];
    }

    @Override
    protected void reset(int beginIndex) {
    }

    @Override
    protected Tensor step(Tensor modelOutput, int i, Tensor x, NoiseSource noise) {
        int t = (int) timesteps[i];
        int prevT = i + 1 < timesteps.length ? (int) timesteps[i + 1] : t;
        float alphaProd = schedule.alphasCumprod[t];
        float alphaProdPrev = prevT >= 0 ? schedule.alphasCumprod[prevT] : finalAlphaCumprod;
        float betaProd = 1f - alphaProd;
        float betaProdPrev = 1f - alphaProdPrev;

        // boundary condition scalings at the scaled timestep (float32 in diffusers)
        float scaled = (float) t * timestepScaling;
        float denom = scaled * scaled + SIGMA_DATA * SIGMA_DATA;
        float cSkip = SIGMA_DATA * SIGMA_DATA / denom;
        float cOut = scaled / sqrt(denom);

        Tensor predX0 = switch (prediction) {
            case EPSILON -> div(sub(x, mul(sqrt(betaProd), modelOutput)), sqrt(alphaProd));
            case SAMPLE -> modelOutput;
            case V_PREDICTION -> sub(mul(sqrt(alphaProd), x), mul(sqrt(betaProd), modelOutput));
        };
        if (clipSample) predX0 = clamp(predX0, -clipRange, clipRange);
        Tensor denoised = add(mul(cOut, predX0), mul(cSkip, x));
        if (i == numInferenceSteps - 1) return denoised;
        Tensor z = noise.randn(modelOutput.shape);
        return add(mul(sqrt(alphaProdPrev), denoised), mul(sqrt(betaProdPrev), z));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int index) {
        return DdimSampler.addNoiseAt(schedule.alphasCumprod[(int) timesteps[index]], original, noise);
    }
}
