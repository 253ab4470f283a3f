package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

/**
 * Where the samplers' Gaussian noise comes from. One seeded source serves a whole generation: the
 * pipeline draws the initial latents from it, then each stochastic sampler step draws its noise from
 * it in step order, so a seed reproduces the same image.
 */
public interface NoiseSource {

    /** Standard normal values of this shape; each call continues where the previous one stopped. */
    Tensor randn(int... shape);
}
