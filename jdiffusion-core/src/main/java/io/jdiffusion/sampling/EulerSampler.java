package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.div;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sub;

/** Euler's method on the probability-flow ODE (diffusers EulerDiscreteScheduler, no churn). */
final class EulerSampler extends SigmaSampler {

    EulerSampler(SchedulerConfig config, int steps) {
        super(config, steps, NoiseSchedule.BetaDefaults.LINEAR_DDPM);
        String finalType = config.textOr("final_sigmas_type", "zero");
        float finalSigma = switch (finalType) {
            case "zero" -> 0f;
            case "sigma_min" -> schedule.sigmas()[0];
            default -> throw new JDiffusionException("scheduler config: final_sigmas_type '" + finalType
                    + "' is not supported (zero, sigma_min)");
        };
        Discrete d = discreteSchedule(KarrasRule.FRACTIONAL_WITH_CONFIG_LIMITS, finalSigma);
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
        Tensor derivative = div(sub(x, denoised), sigma);
        float dt = sigmas[i + 1] - sigma;
        return add(x, mul(dt, derivative));
    }
}
