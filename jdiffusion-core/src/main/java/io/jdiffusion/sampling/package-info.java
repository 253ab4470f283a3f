/**
 * Seeds, noise schedules and samplers, each equal to its reference (torch's CPU generator, diffusers'
 * schedulers).
 *
 * <ul>
 *   <li>{@link io.jdiffusion.sampling.TorchCpuRandom}: {@code torch.randn}/{@code torch.rand} on a seeded CPU
 *       generator, bit for bit; {@link io.jdiffusion.sampling.PhiloxRandom}: A1111's "NV" noise. Both are
 *       {@link io.jdiffusion.sampling.NoiseSource}s.</li>
 *   <li>{@link io.jdiffusion.sampling.SamplerId#parse} accepts ids ({@code euler_a}) and A1111 names
 *       ({@code "Euler a"}); {@link io.jdiffusion.sampling.Samplers#create} builds a
 *       {@link io.jdiffusion.sampling.Sampler} from the model's {@link io.jdiffusion.sampling.SchedulerConfig}
 *       and the step count.</li>
 *   <li>txt2img: {@code sampler.sample(model, rng.randn(shape), rng, listener)}. img2img:
 *       {@code start = sampler.startIndex(strength)}, {@code noisy = sampler.addNoise(x0, rng.randn(shape), start)},
 *       {@code sampler.denoise(model, noisy, start, rng, hook, listener)}; a 4-channel inpainting pipeline
 *       passes a {@link io.jdiffusion.sampling.LatentsHook} that pastes back
 *       {@code sampler.addNoise(x0, noise, index + 1)} outside the mask.</li>
 *   <li>The {@link io.jdiffusion.sampling.NoisePredictor} gets the input-scaled latents and
 *       {@code sampler.timesteps()[i]} and returns the guided raw output.</li>
 * </ul>
 */
package io.jdiffusion.sampling;
