package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.div;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sqrt;
import static io.jdiffusion.sampling.Elementwise.sub;

/**
 * The k-diffusion family (diffusers' Euler, Euler ancestral, LMS, Heun, KDPM2): they walk down a table
 * of sigmas, feed the network x / sqrt(sigma² + 1) with a float timestep interpolated from the training
 * schedule, and start from noise of standard deviation sigma_max.
 */
abstract class SigmaSampler extends Sampler {
    protected final NoiseSchedule schedule;
    protected final String spacing;
    /** Sigma at each entry of timesteps, then the final sigma (diffusers' scheduler.sigmas). */
    protected float[] sigmas;

    SigmaSampler(SchedulerConfig config, int steps, NoiseSchedule.BetaDefaults defaults) {
        super(config, steps);
        this.schedule = NoiseSchedule.create(config, defaults, true);
        this.spacing = Spacing.spacing(config, "linspace");
        rejectUnsupported(config);
    }

    private static void rejectUnsupported(SchedulerConfig config) {
        for (String flag : new String[]{"use_exponential_sigmas", "use_beta_sigmas"}) {
            if (config.boolOr(flag, false)) {
                throw new JDiffusionException("scheduler config: " + flag + " is not supported");
            }
        }
        String interpolation = config.textOr("interpolation_type", "linear");
        if (!interpolation.equals("linear")) {
            throw new JDiffusionException("scheduler config: interpolation_type '" + interpolation
                    + "' is not supported (linear)");
        }
        if (config.textOr("timestep_type", "discrete").equals("continuous")) {
            throw new JDiffusionException("scheduler config: timestep_type 'continuous' is not supported");
        }
    }

    /** How a sampler's set_timesteps treats Karras sigmas. */
    enum KarrasRule {
        /** no Karras option (Euler ancestral) */
        NONE,
        /** timesteps from the Karras sigmas, fractional (Euler, LMS, Heun) */
        FRACTIONAL,
        /** Euler also honours sigma_min / sigma_max from the config */
        FRACTIONAL_WITH_CONFIG_LIMITS,
        /** timesteps rounded to integers (KDPM2) */
        ROUNDED
    }

    /** Timesteps (float32 values) and sigmas (float32, plus the final one) of diffusers' set_timesteps. */
    record Discrete(double[] timesteps, float[] sigmas) {
    }

    Discrete discreteSchedule(KarrasRule karrasRule, float finalSigma) {
        int n = numInferenceSteps;
        int train = schedule.numTrainTimesteps;
        double[] t = switch (spacing) {
            case "linspace" -> Spacing.reversed(Spacing.linspace(0, train - 1, n));
            case "leading" -> {
                int ratio = train / n;
                double[] up = new double[n];
                for (int i = 0; i < n; i++) up[i] = (double) i * ratio;
                double[] down = Spacing.reversed(up);
                for (int i = 0; i < n; i++) down[i] = (float) down[i] + (float) config.intOr("steps_offset", 0);
                yield down;
            }
            default -> {
                double[] a = Spacing.arangeDown(train, (double) train / n);
                for (int i = 0; i < a.length; i++) a[i] = (float) Spacing.round(a[i]) - 1f;
                yield a;
            }
        };
        for (int i = 0; i < t.length; i++) t[i] = (float) t[i];
        float[] all = schedule.sigmas();
        double[] s = new double[t.length];
        for (int i = 0; i < t.length; i++) s[i] = Spacing.interp(t[i], all);

        boolean karras = karrasRule != KarrasRule.NONE && config.boolOr("use_karras_sigmas", false);
        if (karras) {
            double sigmaMin = s[s.length - 1], sigmaMax = s[0];
            if (karrasRule == KarrasRule.FRACTIONAL_WITH_CONFIG_LIMITS) {
                sigmaMin = config.doubleOr("sigma_min", sigmaMin);
                sigmaMax = config.doubleOr("sigma_max", sigmaMax);
            }
            s = Spacing.karras(sigmaMin, sigmaMax, n);
            float[] logSigmas = NoiseSchedule.logs(all);
            t = new double[n];
            for (int i = 0; i < n; i++) {
                double ti = Spacing.sigmaToT(s[i], logSigmas);
                t[i] = (float) (karrasRule == KarrasRule.ROUNDED ? Spacing.round(ti) : ti);
            }
        }
        float[] sig = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sig[i] = (float) s[i];
        sig[s.length] = finalSigma;
        return new Discrete(t, sig);
    }

    @Override
    public float[] sigmas() {
        return sigmas.clone();
    }

    /** The largest sigma, or sqrt(max² + 1) for "leading" spacing, whose first sigma is not the top one. */
    @Override
    public float initNoiseSigma() {
        float max = 0f;
        for (float s : sigmas) max = Math.max(max, s);
        if (spacing.equals("linspace") || spacing.equals("trailing")) return max;
        return sqrt(max * max + 1f);
    }

    /** The sigma whose input scaling applies at this index. */
    protected float inputSigma(int index) {
        return sigmas[index];
    }

    @Override
    protected Tensor scaleModelInput(Tensor sample, int index) {
        float sigma = inputSigma(index);
        return div(sample, sqrt(sigma * sigma + 1f));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int index) {
        return add(original, mul(sigmas[index], noise));
    }

    /** The network's estimate of the clean latents at this sigma (pred_original_sample). */
    protected Tensor denoised(Tensor modelOutput, Tensor sample, float sigma) {
        return switch (prediction) {
            case EPSILON -> sub(sample, mul(sigma, modelOutput));
            case V_PREDICTION -> {
                float c = -sigma / sqrt(sigma * sigma + 1f);
                yield add(mul(c, modelOutput), div(sample, sigma * sigma + 1f));
            }
            case SAMPLE -> modelOutput;
        };
    }
}
