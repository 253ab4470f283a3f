package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

/**
 * The forward (noising) process of a training schedule at one training timestep, as diffusers'
 * DDPMScheduler.add_noise computes it: sqrt(ᾱ_t)·x + sqrt(1 − ᾱ_t)·noise in float32, ᾱ from the config's betas
 * (DDPM's own defaults where it names none). The x4 upscaler puts its low-resolution input through this
 * (its low_res_scheduler) at the requested noise level.
 */
public final class ForwardNoising {
    private ForwardNoising() {
    }

    /** {@code original} noised with {@code noise} to training timestep {@code timestep} (0-based) of {@code config}'s schedule. */
    public static Tensor addNoise(SchedulerConfig config, Tensor original, Tensor noise, int timestep) {
        NoiseSchedule schedule = NoiseSchedule.create(config, NoiseSchedule.BetaDefaults.LINEAR_DDPM, false);
        if (timestep < 0 || timestep >= schedule.numTrainTimesteps) {
            throw new JDiffusionException("noise level " + timestep + " is outside the schedule's 0.." + (schedule.numTrainTimesteps - 1));
        }
        if (!java.util.Arrays.equals(original.shape, noise.shape)) {
            throw new IllegalArgumentException("noise " + noise.shapeString() + " does not match " + original.shapeString());
        }
        return DdimSampler.addNoiseAt(schedule.alphasCumprod[timestep], original, noise);
    }
}
