package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

/**
 * Lets a pipeline change the latents after each sampler step, as inpainting with a plain 4-channel
 * model does: it pastes back the known region, noised to the next timestep with
 * {@link Sampler#addNoise(Tensor, Tensor, int)} at {@code index + 1}.
 */
@FunctionalInterface
public interface LatentsHook {

    /**
     * @param index   position in {@link Sampler#timesteps()} of the step just taken
     * @param latents the latents after that step
     * @return the latents to continue from
     */
    Tensor afterStep(int index, Tensor latents);
}
