package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.alphaOf;
import static io.jdiffusion.sampling.Elementwise.lambdaOf;
import static io.jdiffusion.sampling.Elementwise.exp;
import static io.jdiffusion.sampling.Elementwise.log;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sqrt;
import static io.jdiffusion.sampling.Elementwise.sub;

/**
 * DPM-Solver++(2M) and its SDE variant (diffusers DPMSolverMultistepScheduler with solver_order 2,
 * solver_type midpoint, algorithm dpmsolver++ or sde-dpmsolver++): multistep in log-SNR on the
 * network's x0 estimates, first order at the start and (lower_order_final) at the end. The SDE variant
 * draws one standard-normal tensor every step, the last included.
 */
final class DpmSolverSampler extends Sampler {
    private final NoiseSchedule schedule;
    private final boolean sde;
    private final boolean lowerOrderFinal;
    private final boolean eulerAtFinal;
    private final boolean finalSigmaZero;
    private final float[] sigmas;

    private Tensor previousX0;
    private Tensor currentX0;
    private int lowerOrderNums;

    DpmSolverSampler(SchedulerConfig config, int steps, boolean karras, boolean sde) {
        super(config, steps);
        for (String flag : new String[]{"thresholding", "use_lu_lambdas", "use_exponential_sigmas",
                "use_beta_sigmas", "use_flow_sigmas"}) {
            if (config.boolOr(flag, false)) {
                throw new JDiffusionException("scheduler config: " + flag + " is not supported");
            }
        }
        if (config.has("variance_type")) {
            throw new JDiffusionException("scheduler config: variance_type (learned variance) is not supported");
        }
        this.schedule = NoiseSchedule.create(config, NoiseSchedule.BetaDefaults.LINEAR_DDPM, true);
        this.sde = sde;
        this.lowerOrderFinal = config.boolOr("lower_order_final", true);
        this.eulerAtFinal = config.boolOr("euler_at_final", false);
        String finalType = config.textOr("final_sigmas_type", "zero");
        if (!finalType.equals("zero") && !finalType.equals("sigma_min")) {
            throw new JDiffusionException("scheduler config: final_sigmas_type '" + finalType
                    + "' is not supported (zero, sigma_min)");
        }
        this.finalSigmaZero = finalType.equals("zero");

        int train = schedule.numTrainTimesteps;
        float[] all = schedule.sigmas();
        int last = train - clippedIndex(config.doubleOr("lambda_min_clipped", Double.NEGATIVE_INFINITY));
        String spacing = Spacing.spacing(config, "linspace");
        double[] t = integerTimesteps(spacing, train, last, steps, config.intOr("steps_offset", 0));
        double[] s;
        if (karras || config.boolOr("use_karras_sigmas", false)) {
            s = Spacing.karras(all[0], all[train - 1], steps);
            float[] logSigmas = NoiseSchedule.logs(all);
            boolean round = !config.textOr("beta_schedule", "linear").equals("squaredcos_cap_v2");
            t = new double[steps];
            for (int i = 0; i < steps; i++) {
                double ti = Spacing.sigmaToT(s[i], logSigmas);
                t[i] = round ? Spacing.round(ti) : ti;
            }
        } else {
            s = new double[t.length];
            for (int i = 0; i < t.length; i++) s[i] = Spacing.interp(t[i], all);
        }
        sigmas = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sigmas[i] = (float) s[i];
        sigmas[s.length] = finalSigmaZero ? 0f : all[0];
        timesteps = new double[t.length];
        // diffusers stores these timesteps as int64 (fractional ones, without rounding, are truncated)
        for (int i = 0; i < t.length; i++) timesteps[i] = (long) t[i];
    }

    /** The number of training timesteps cut off at the end by lambda_min_clipped. */
    private int clippedIndex(double lambdaMinClipped) {
        int n = schedule.numTrainTimesteps;
        int count = 0;
        for (int i = n - 1; i >= 0; i--) {          // flip(lambda_t) is ascending; count entries below
            float a = schedule.alphasCumprod[i];
            float lambda = log(sqrt(a)) - log(sqrt(1f - a));
            if (lambda < lambdaMinClipped) count++;
        }
        return count;
    }

    /** DPM-Solver's and UniPC's integer timesteps: n + 1 points, the last (0) dropped. */
    static double[] integerTimesteps(String spacing, int train, int last, int n, int stepsOffset) {
        return switch (spacing) {
            case "linspace" -> {
                double[] up = Spacing.linspace(0, last - 1, n + 1);
                double[] t = new double[n];
                for (int i = 0; i < n; i++) t[i] = Spacing.round(up[n - i]);
                yield t;
            }
            case "leading" -> {
                int ratio = last / (n + 1);
                double[] t = new double[n];
                for (int i = 0; i < n; i++) t[i] = (double) (n - i) * ratio + stepsOffset;
                yield t;
            }
            default -> {
                double[] t = Spacing.arangeDown(last, (double) train / n);
                for (int i = 0; i < t.length; i++) t[i] = Spacing.round(t[i]) - 1;
                yield t;
            }
        };
    }

    @Override
    public float[] sigmas() {
        return sigmas.clone();
    }

    @Override
    protected void reset(int beginIndex) {
        previousX0 = null;
        currentX0 = null;
        lowerOrderNums = 0;
    }

    @Override
    protected Tensor step(Tensor modelOutput, int i, Tensor x, NoiseSource noise) {
        int n = timesteps.length;
        boolean finalStep = i == n - 1
                && (eulerAtFinal || (lowerOrderFinal && n < 15) || finalSigmaZero);
        Tensor x0 = predictX0(modelOutput, x, sigmas[i]);
        previousX0 = currentX0;
        currentX0 = x0;
        Tensor z = sde ? noise.randn(modelOutput.shape) : null;
        Tensor next = lowerOrderNums < 1 || finalStep ? firstOrder(x, i, z) : secondOrder(x, i, z);
        if (lowerOrderNums < 2) lowerOrderNums++;
        return next;
    }

    private Tensor predictX0(Tensor out, Tensor x, float sigma) {
        float alphaT = alphaOf(sigma);
        float sigmaT = sigma * alphaT;
        return switch (prediction) {
            case EPSILON -> Elementwise.div(sub(x, mul(sigmaT, out)), alphaT);
            case V_PREDICTION -> sub(mul(alphaT, x), mul(sigmaT, out));
            case SAMPLE -> out;
        };
    }

    private Tensor firstOrder(Tensor x, int i, Tensor z) {
        float sigmaNext = sigmas[i + 1], sigma = sigmas[i];
        float alphaT = alphaOf(sigmaNext), sigmaT = sigmaNext * alphaT;
        float alphaS = alphaOf(sigma), sigmaS = sigma * alphaS;
        float h = lambdaOf(sigmaNext) - lambdaOf(sigma);
        if (!sde) {
            return sub(mul(sigmaT / sigmaS, x), mul(alphaT * (exp(-h) - 1f), currentX0));
        }
        Tensor r = add(mul(sigmaT / sigmaS * exp(-h), x), mul(alphaT * (1f - exp(-2f * h)), currentX0));
        return add(r, mul(sigmaT * sqrt(1f - exp(-2f * h)), z));
    }

    private Tensor secondOrder(Tensor x, int i, Tensor z) {
        float sigmaNext = sigmas[i + 1], sigma0 = sigmas[i], sigma1 = sigmas[i - 1];
        float alphaT = alphaOf(sigmaNext), sigmaT = sigmaNext * alphaT;
        float sigmaS0 = sigma0 * alphaOf(sigma0);
        float lambdaT = lambdaOf(sigmaNext), lambdaS0 = lambdaOf(sigma0), lambdaS1 = lambdaOf(sigma1);
        float h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        Tensor d0 = currentX0;
        Tensor d1 = mul(1f / r0, sub(currentX0, previousX0));
        if (!sde) {
            float c = alphaT * (exp(-h) - 1f);
            return sub(sub(mul(sigmaT / sigmaS0, x), mul(c, d0)), mul(0.5f * c, d1));
        }
        float c = alphaT * (1f - exp(-2f * h));
        Tensor r = add(add(mul(sigmaT / sigmaS0 * exp(-h), x), mul(c, d0)), mul(0.5f * c, d1));
        return add(r, mul(sigmaT * sqrt(1f - exp(-2f * h)), z));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int index) {
        float alphaT = alphaOf(sigmas[index]);
        float sigmaT = sigmas[index] * alphaT;
        return add(mul(alphaT, original), mul(sigmaT, noise));
    }
}
