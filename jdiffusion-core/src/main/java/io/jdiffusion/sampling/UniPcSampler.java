package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.alphaOf;
import static io.jdiffusion.sampling.Elementwise.lambdaOf;
import static io.jdiffusion.sampling.Elementwise.div;
import static io.jdiffusion.sampling.Elementwise.expm1;
import static io.jdiffusion.sampling.Elementwise.log;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sqrt;
import static io.jdiffusion.sampling.Elementwise.sub;

/**
 * UniPC (diffusers UniPCMultistepScheduler: bh2, solver_order 2, predict_x0): after each network
 * evaluation the UniC corrector first refines the latents of the previous prediction with the new x0
 * estimate, then the UniP predictor steps to the next sigma. Lower order at the start and at the end.
 */
final class UniPcSampler extends Sampler {
    private static final int SOLVER_ORDER = 2;
    private final NoiseSchedule schedule;
    private final boolean lowerOrderFinal;
    private final List<Integer> disableCorrector = new ArrayList<>();
    private final float[] sigmas;

    /** x0 estimates, oldest first (diffusers' model_outputs) */
    private final Tensor[] x0s = new Tensor[SOLVER_ORDER];
    private Tensor lastSample;
    private int lowerOrderNums;
    private int thisOrder;

    UniPcSampler(SchedulerConfig config, int steps) {
        super(config, steps);
        for (String flag : new String[]{"thresholding", "use_exponential_sigmas", "use_beta_sigmas",
                "use_flow_sigmas", "use_dynamic_shifting"}) {
            if (config.boolOr(flag, false)) {
                throw new JDiffusionException("scheduler config: " + flag + " is not supported");
            }
        }
        if (!config.boolOr("predict_x0", true)) {
            throw new JDiffusionException("scheduler config: predict_x0 false is not supported by the unipc sampler");
        }
        schedule = NoiseSchedule.create(config, NoiseSchedule.BetaDefaults.LINEAR_DDPM, true);
        lowerOrderFinal = config.boolOr("lower_order_final", true);
        var disabled = config.values().get("disable_corrector");
        if (disabled != null && disabled.isArray()) disabled.forEach(v -> disableCorrector.add(v.asInt()));
        String finalType = config.textOr("final_sigmas_type", "zero");
        if (!finalType.equals("zero") && !finalType.equals("sigma_min")) {
            throw new JDiffusionException("scheduler config: final_sigmas_type '" + finalType
                    + "' is not supported (zero, sigma_min)");
        }

        int train = schedule.numTrainTimesteps;
        float[] all = schedule.sigmas();
        double[] t = DpmSolverSampler.integerTimesteps(Spacing.spacing(config, "linspace"), train, train, steps,
                config.intOr("steps_offset", 0));
        double[] s;
        float finalSigma;
        if (config.boolOr("use_karras_sigmas", false)) {
            double sigmaMin = config.doubleOr("sigma_min", all[0]);
            double sigmaMax = config.doubleOr("sigma_max", all[train - 1]);
            s = Spacing.karras(sigmaMin, sigmaMax, steps);
            float[] logSigmas = NoiseSchedule.logs(all);
            t = new double[steps];
            for (int i = 0; i < steps; i++) t[i] = Spacing.round(Spacing.sigmaToT(s[i], logSigmas));
            finalSigma = finalType.equals("zero") ? 0f : (float) s[steps - 1];
        } else {
            s = new double[t.length];
            for (int i = 0; i < t.length; i++) s[i] = Spacing.interp(t[i], all);
            finalSigma = finalType.equals("zero") ? 0f : all[0];
        }
        sigmas = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sigmas[i] = (float) s[i];
        sigmas[s.length] = finalSigma;
        timesteps = t;
    }

    @Override
    public float[] sigmas() {
        return sigmas.clone();
    }

    @Override
    protected void reset(int beginIndex) {
        x0s[0] = null;
        x0s[1] = null;
        lastSample = null;
        lowerOrderNums = 0;
        thisOrder = 0;
    }

    @Override
    protected Tensor step(Tensor modelOutput, int i, Tensor x, NoiseSource noise) {
        boolean useCorrector = i > 0 && !disableCorrector.contains(i - 1) && lastSample != null;
        Tensor x0 = predictX0(modelOutput, x, sigmas[i]);
        if (useCorrector) x = correct(x0, i, thisOrder);
        x0s[0] = x0s[1];
        x0s[1] = x0;
        int order = lowerOrderFinal ? Math.min(SOLVER_ORDER, timesteps.length - i) : SOLVER_ORDER;
        thisOrder = Math.min(order, lowerOrderNums + 1);
        lastSample = x;
        Tensor next = predict(x, i, thisOrder);
        if (lowerOrderNums < SOLVER_ORDER) lowerOrderNums++;
        return next;
    }

    private Tensor predictX0(Tensor out, Tensor x, float sigma) {
        float alphaT = alphaOf(sigma);
        float sigmaT = sigma * alphaT;
        return switch (prediction) {
            case EPSILON -> div(sub(x, mul(sigmaT, out)), alphaT);
            case V_PREDICTION -> sub(mul(alphaT, x), mul(sigmaT, out));
            case SAMPLE -> out;
        };
    }

    /** The B(h) = e^{-h} − 1 weights of both UniP and UniC (bh2, data prediction): b_k for k = 1..order. */
    private static float[] bWeights(float hh, int order) {
        float hPhi1 = expm1(hh);
        float hPhiK = hPhi1 / hh - 1f;
        float bh = expm1(hh);
        long factorial = 1;
        float[] b = new float[order];
        for (int k = 1; k <= order; k++) {
            b[k - 1] = hPhiK * (float) factorial / bh;
            factorial *= k + 1;
            hPhiK = hPhiK / hh - (float) (1.0 / factorial);
        }
        return b;
    }

    /** UniP: from x (at sigmas[i]) to sigmas[i+1] with the newest x0 and, at order 2, the one before. */
    private Tensor predict(Tensor x, int i, int order) {
        Tensor m0 = x0s[1];
        float sigmaNext = sigmas[i + 1], sigma = sigmas[i];
        float alphaT = alphaOf(sigmaNext), sigmaT = sigmaNext * alphaT;
        float sigmaS0 = sigma * alphaOf(sigma);
        float lambdaS0 = lambdaOf(sigma);
        float h = lambdaOf(sigmaNext) - lambdaS0;
        float hh = -h;
        float hPhi1 = expm1(hh);
        float bh = expm1(hh);
        Tensor base = sub(mul(sigmaT / sigmaS0, x), mul(alphaT * hPhi1, m0));
        if (order == 1) return base;
        float rk = (lambdaOf(sigmas[i - 1]) - lambdaS0) / h;
        Tensor d1 = div(sub(x0s[0], m0), rk);
        Tensor predRes = mul(0.5f, d1);             // rhos_p = [0.5] at order 2
        return sub(base, mul(alphaT * bh, predRes));
    }

    /** UniC: re-derives the latents at sigmas[i] from lastSample (at sigmas[i-1]) using the new x0. */
    private Tensor correct(Tensor modelX0, int i, int order) {
        Tensor m0 = x0s[1];
        float sigma = sigmas[i], sigmaPrev = sigmas[i - 1];
        float alphaT = alphaOf(sigma), sigmaT = sigma * alphaT;
        float sigmaS0 = sigmaPrev * alphaOf(sigmaPrev);
        float lambdaS0 = lambdaOf(sigmaPrev);
        float h = lambdaOf(sigma) - lambdaS0;
        float hh = -h;
        float hPhi1 = expm1(hh);
        float bh = expm1(hh);
        float[] b = bWeights(hh, order);
        Tensor d1 = null;
        float[] rhos;
        if (order == 1) {
            rhos = new float[]{0.5f};
        } else {
            float rk = (lambdaOf(sigmas[i - 2]) - lambdaS0) / h;
            d1 = div(sub(x0s[0], m0), rk);
            // R = [[1, 1], [rk, 1]] (row k holds rks^k), solved like LAPACK with partial pivoting
            rhos = solve2(1f, 1f, rk, 1f, b[0], b[1]);
        }
        Tensor base = sub(mul(sigmaT / sigmaS0, lastSample), mul(alphaT * hPhi1, m0));
        Tensor dt = sub(modelX0, m0);
        Tensor corr = mul(rhos[rhos.length - 1], dt);
        if (d1 != null) corr = add(mul(rhos[0], d1), corr);
        return sub(base, mul(alphaT * bh, corr));
    }

    /** [[a, b], [c, d]] · x = [e, f] by Gaussian elimination with partial pivoting, in float. */
    private static float[] solve2(float a, float b, float c, float d, float e, float f) {
        if (Math.abs(c) > Math.abs(a)) {
            float l = a / c;
            float u = b - l * d;
            float y2 = e - l * f;
            float x2 = y2 / u;
            return new float[]{(f - d * x2) / c, x2};
        }
        float l = c / a;
        float u = d - l * b;
        float y2 = f - l * e;
        float x2 = y2 / u;
        return new float[]{(e - b * x2) / a, x2};
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int index) {
        float alphaT = alphaOf(sigmas[index]);
        float sigmaT = sigmas[index] * alphaT;
        return add(mul(alphaT, original), mul(sigmaT, noise));
    }
}
