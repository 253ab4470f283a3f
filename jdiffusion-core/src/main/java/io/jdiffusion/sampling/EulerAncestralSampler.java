package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.div;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sqrt;
import static io.jdiffusion.sampling.Elementwise.sub;

/**
 * Euler ancestral (diffusers EulerAncestralDiscreteScheduler): an Euler step down to sigma_down, then
 * fresh noise of standard deviation sigma_up, drawn every step including the last.
 */
final class EulerAncestralSampler extends SigmaSampler {

    EulerAncestralSampler(SchedulerConfig config, int steps) {
        super(config, steps, NoiseSchedule.BetaDefaults.LINEAR_DDPM);
        Discrete d = discreteSchedule(KarrasRule.NONE, 0f);
        timesteps = d.timesteps();
        sigmas = d.sigmas();
    }

    @Override
    protected void reset(int beginIndex) {
    }

    @Override
    protected Tensor step(Tensor modelOutput, int i, Tensor x, NoiseSource noise) {
        float sigma = sigmas[i];
        Tensor denoised = denoised(modelOutput, x, sigma);
        float sigmaFrom = sigmas[i], sigmaTo = sigmas[i + 1];
        float sigmaUp = sqrt(sigmaTo * sigmaTo * (sigmaFrom * sigmaFrom - sigmaTo * sigmaTo) / (sigmaFrom * sigmaFrom));
        float sigmaDown = sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
        Tensor derivative = div(sub(x, denoised), sigma);
        float dt = sigmaDown - sigma;
        Tensor next = add(x, mul(dt, derivative));
        Tensor z = noise.randn(modelOutput.shape);
        return add(next, mul(sigmaUp, z));
    }
}
