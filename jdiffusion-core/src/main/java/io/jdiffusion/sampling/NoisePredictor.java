package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

/**
 * The denoising network as the samplers see it: the model's raw output for the (already input-scaled)
 * latents {@code x} at {@code timestep}, with classifier-free guidance applied by the pipeline. What the
 * output means (epsilon or v) is the model's prediction_type, which the sampler converts from.
 */
@FunctionalInterface
public interface NoisePredictor {
    Tensor predict(Tensor x, double timestep);
}
