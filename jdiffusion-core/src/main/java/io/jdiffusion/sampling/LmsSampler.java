package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.div;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sub;

/**
 * Linear multistep (diffusers LMSDiscreteScheduler, order 4): the next latents are the current ones
 * plus the last derivatives weighted by the integrals, over [sigma_i, sigma_i+1], of their Lagrange
 * basis polynomials in sigma.
 */
final class LmsSampler extends SigmaSampler {
    private static final int ORDER = 4;
    private final List<Tensor> derivatives = new ArrayList<>();

    LmsSampler(SchedulerConfig config, int steps) {
        super(config, steps, NoiseSchedule.BetaDefaults.LINEAR_DDPM);
        Discrete d = discreteSchedule(KarrasRule.FRACTIONAL, 0f);
        timesteps = d.timesteps();
        sigmas = d.sigmas();
    }

    @Override
    protected void reset(int beginIndex) {
        derivatives.clear();
    }

    @Override
    protected Tensor step(Tensor modelOutput, int i, Tensor x, NoiseSource noise) {
        float sigma = sigmas[i];
        Tensor denoised = denoised(modelOutput, x, sigma);
        derivatives.add(div(sub(x, denoised), sigma));
        if (derivatives.size() > ORDER) derivatives.removeFirst();
        // diffusers takes the order from the absolute step index; pairing with the stored derivatives
        // (newest first) stops at the shorter of the two, which matters only for img2img starts
        int order = Math.min(i + 1, ORDER);
        Tensor sum = null;
        for (int k = 0; k < order && k < derivatives.size(); k++) {
            float coeff = (float) lmsCoefficient(order, i, k);
            Tensor term = mul(coeff, derivatives.get(derivatives.size() - 1 - k));
            sum = sum == null ? term : add(sum, term);
        }
        return add(x, sum);
    }

    /**
     * ∫ over [sigma_t, sigma_t+1] of the Lagrange basis polynomial for node t − current among the nodes
     * sigma_t, …, sigma_t−order+1. diffusers integrates with scipy's quad, whose first 21-point
     * Gauss-Kronrod estimate is already exact for these cubics and is what it returns; the integrand
     * is evaluated in float32 because the sigmas are a float32 tensor there.
     */
    private double lmsCoefficient(int order, int t, int current) {
        return gaussKronrod21(tau -> {
            if (order == 1) return 1.0;
            float prod = 1f;
            for (int k = 0; k < order; k++) {
                if (k == current) continue;
                prod *= ((float) tau - sigmas[t - k]) / (sigmas[t - current] - sigmas[t - k]);
            }
            return prod;
        }, sigmas[t], sigmas[t + 1]);
    }

    // QUADPACK qk21: Kronrod nodes (positive half, descending; odd positions are the 10-point Gauss
    // nodes) and their weights
    private static final double[] XGK = {
            0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
            0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
            0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
            0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
            0.294392862701460198131126603103866, 0.148874338981631210884826001129720,
            0.000000000000000000000000000000000};
    private static final double[] WGK = {
            0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
            0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
            0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
            0.123491976262065851077958109831074, 0.134709217311473325928054001771707,
            0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
            0.149445554002916905664936468389821};
    private static double gaussKronrod21(java.util.function.DoubleUnaryOperator f, double a, double b) {
        double centre = 0.5 * (a + b);
        double halfLength = 0.5 * (b - a);
        double resk = WGK[10] * f.applyAsDouble(centre);
        for (int j = 1; j <= 5; j++) {            // Gauss nodes among the Kronrod ones
            int jtw = 2 * j - 1;
            double absc = halfLength * XGK[jtw];
            double fsum = f.applyAsDouble(centre - absc) + f.applyAsDouble(centre + absc);
            resk += WGK[jtw] * fsum;
        }
        for (int j = 1; j <= 5; j++) {            // the Kronrod-only nodes
            int jtwm1 = 2 * j - 2;
            double absc = halfLength * XGK[jtwm1];
            double fsum = f.applyAsDouble(centre - absc) + f.applyAsDouble(centre + absc);
            resk += WGK[jtwm1] * fsum;
        }
        return resk * halfLength;
    }
}
