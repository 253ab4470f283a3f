package io.jdiffusion.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;

/**
 * The training noise schedule: betas and the cumulative products of the alphas, per training timestep,
 * computed as diffusers computes them (torch float32, except that torch.cumprod accumulates in double),
 * so that every sigma and coefficient derived from it equals the reference's.
 */
final class NoiseSchedule {
    final int numTrainTimesteps;
    final float[] betas;
    final float[] alphasCumprod;

    private NoiseSchedule(float[] betas, float[] alphasCumprod) {
        this.numTrainTimesteps = betas.length;
        this.betas = betas;
        this.alphasCumprod = alphasCumprod;
    }

    /** A scheduler's own defaults for the beta keys; a model's config overrides any of them. */
    record BetaDefaults(double betaStart, double betaEnd, String betaSchedule) {
        static final BetaDefaults LINEAR_DDPM = new BetaDefaults(0.0001, 0.02, "linear");
        static final BetaDefaults HEUN = new BetaDefaults(0.00085, 0.012, "linear");
        static final BetaDefaults LCM = new BetaDefaults(0.00085, 0.012, "scaled_linear");
    }

    /**
     * The schedule for this config. {@code floorLastAlphaCumprod}: the sigma-based schedulers (and the
     * DPM/UniPC solvers) set the last alpha_cumprod to 2^-24 after a zero-terminal-SNR rescale, so that
     * its sigma stays finite; DDIM, PNDM and LCM keep the exact zero.
     */
    static NoiseSchedule create(SchedulerConfig config, BetaDefaults defaults, boolean floorLastAlphaCumprod) {
        int t = config.intOr("num_train_timesteps", 1000);
        if (t < 2) throw new JDiffusionException("scheduler config: num_train_timesteps must be at least 2, got " + t);
        float[] betas;
        JsonNode trained = config.values().get("trained_betas");
        if (trained != null && !trained.isNull()) {
            if (!trained.isArray() || trained.isEmpty()) {
                throw new JDiffusionException("scheduler config: trained_betas must be a non-empty list of numbers");
            }
            betas = new float[trained.size()];
            for (int i = 0; i < betas.length; i++) betas[i] = (float) trained.get(i).asDouble();
        } else {
            double start = config.doubleOr("beta_start", defaults.betaStart());
            double end = config.doubleOr("beta_end", defaults.betaEnd());
            String kind = config.textOr("beta_schedule", defaults.betaSchedule());
            betas = switch (kind) {
                case "linear" -> torchLinspace(start, end, t);
                case "scaled_linear" -> {
                    float[] roots = torchLinspace(Math.sqrt(start), Math.sqrt(end), t);
                    for (int i = 0; i < t; i++) roots[i] = roots[i] * roots[i];
                    yield roots;
                }
                case "squaredcos_cap_v2" -> betasForAlphaBar(t, false);
                case "exp" -> betasForAlphaBar(t, true);
                default -> throw new JDiffusionException("scheduler config: beta_schedule '" + kind
                        + "' is not supported (linear, scaled_linear, squaredcos_cap_v2, exp)");
            };
        }
        boolean rescale = config.boolOr("rescale_betas_zero_snr", false);
        if (rescale) betas = rescaleZeroTerminalSnr(betas);
        float[] acp = cumprodOfAlphas(betas);
        if (rescale && floorLastAlphaCumprod) acp[acp.length - 1] = 0x1p-24f;
        return new NoiseSchedule(betas, acp);
    }

    /**
     * torch.linspace in float32 on the CPU: step = (end − start)/(n − 1) in float, the first half counted
     * up from start and the second half down from end; the x86 builds compile both with a fused
     * multiply-add, which the schedule tables confirm.
     */
    static float[] torchLinspace(double startD, double endD, int n) {
        float start = (float) startD, end = (float) endD;
        float[] out = new float[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (float) (n - 1);
        int half = n / 2;
        for (int i = 0; i < n; i++) {
            out[i] = i < half ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (n - i - 1), end);
        }
        return out;
    }

    /** betas_for_alpha_bar: computed in double, stored in float32. */
    private static float[] betasForAlphaBar(int n, boolean exponential) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n, t2 = (double) (i + 1) / n;
            double beta = 1 - alphaBar(t2, exponential) / alphaBar(t1, exponential);
            out[i] = (float) Math.min(beta, 0.999);
        }
        return out;
    }

    private static double alphaBar(double t, boolean exponential) {
        if (exponential) return StrictMath.exp(t * -12.0);
        double c = StrictMath.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /** alphas = 1 − betas (float32), their running product accumulated in double as torch.cumprod does. */
    private static float[] cumprodOfAlphas(float[] betas) {
        float[] acp = new float[betas.length];
        double product = 1.0;
        for (int i = 0; i < betas.length; i++) {
            float alpha = 1f - betas[i];
            product *= alpha;
            acp[i] = (float) product;
        }
        return acp;
    }

    /** Rescales the betas to zero terminal SNR (Lin et al. 2023, Algorithm 1), in float32 like diffusers. */
    private static float[] rescaleZeroTerminalSnr(float[] betas) {
        int n = betas.length;
        float[] sqrtAcp = cumprodOfAlphas(betas);
        for (int i = 0; i < n; i++) sqrtAcp[i] = (float) Math.sqrt(sqrtAcp[i]);
        float first = sqrtAcp[0], last = sqrtAcp[n - 1];
        float scale = first / (first - last);
        for (int i = 0; i < n; i++) sqrtAcp[i] = (sqrtAcp[i] - last) * scale;
        float[] alphaBar = new float[n];
        for (int i = 0; i < n; i++) alphaBar[i] = sqrtAcp[i] * sqrtAcp[i];
        float[] out = new float[n];
        out[0] = 1f - alphaBar[0];
        for (int i = 1; i < n; i++) out[i] = 1f - alphaBar[i] / alphaBar[i - 1];
        return out;
    }

    /** sigma(t) = sqrt((1 − ᾱ_t)/ᾱ_t) for every training timestep, float32 as torch computes it. */
    float[] sigmas() {
        float[] s = new float[numTrainTimesteps];
        for (int t = 0; t < numTrainTimesteps; t++) s[t] = sigmaOf(alphasCumprod[t]);
        return s;
    }

    static float sigmaOf(float alphaCumprod) {
        return (float) Math.sqrt((1f - alphaCumprod) / alphaCumprod);
    }

    /** numpy's float32 log of each sigma (log_sigmas in diffusers). */
    static float[] logs(float[] sigmas) {
        float[] out = new float[sigmas.length];
        for (int i = 0; i < out.length; i++) out[i] = (float) Math.log(sigmas[i]);
        return out;
    }
}
