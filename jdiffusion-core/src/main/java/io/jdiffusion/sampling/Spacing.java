package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;

/**
 * The numpy steps diffusers uses to place inference timesteps and sigmas (float64 unless noted), with
 * numpy's exact conventions: linspace counts up from start and pins the end point, arange fills
 * start + i·delta, round is half-to-even.
 */
final class Spacing {
    private Spacing() {
    }

    /** timestep_spacing values a scheduler config may name. */
    static String spacing(SchedulerConfig config, String dflt) {
        String s = config.textOr("timestep_spacing", dflt);
        if (!s.equals("linspace") && !s.equals("leading") && !s.equals("trailing")) {
            throw new JDiffusionException("scheduler config: timestep_spacing '" + s
                    + "' is not supported (linspace, leading, trailing)");
        }
        return s;
    }

    /** np.linspace(start, stop, num) with the end point included. */
    static double[] linspace(double start, double stop, int num) {
        double[] y = new double[num];
        if (num == 1) {
            y[0] = start;
            return y;
        }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) y[i] = i * step + start;
        y[num - 1] = stop;
        return y;
    }

    /** np.arange(start, 0, -step) for a positive float step (numpy's length rule and fill included). */
    static double[] arangeDown(double start, double step) {
        int len = (int) Math.ceil((0 - start) / -step);
        double[] y = new double[Math.max(len, 0)];
        if (len == 0) return y;
        y[0] = start;
        if (len > 1) {
            double delta = (start + -step) - start;
            for (int i = 1; i < len; i++) y[i] = start + i * delta;
        }
        return y;
    }

    /** np.round: half to even. */
    static double round(double v) {
        return Math.rint(v);
    }

    static double[] reversed(double[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[a.length - 1 - i];
        return r;
    }

    /** np.interp(x, arange(len(fp)), fp) in double, numpy's formula. */
    static double interp(double x, float[] fp) {
        int last = fp.length - 1;
        if (x <= 0) return fp[0];
        if (x >= last) return fp[last];
        int j = (int) Math.floor(x);
        if (x == j) return fp[j];
        double slope = ((double) fp[j + 1] - fp[j]) / 1.0;
        return slope * (x - j) + fp[j];
    }

    /** Karras et al. (2022) sigmas, rho = 7, from sigmaMax down to sigmaMin, in double. */
    static double[] karras(double sigmaMin, double sigmaMax, int n) {
        double[] ramp = linspace(0, 1, n);
        double minInvRho = StrictMath.pow(sigmaMin, 1 / 7.0);
        double maxInvRho = StrictMath.pow(sigmaMax, 1 / 7.0);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = StrictMath.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), 7.0);
        return out;
    }

    /**
     * _sigma_to_t: the (fractional) training timestep whose sigma is this one, interpolating linearly in
     * log sigma between the neighbouring entries of logSigmas (numpy float32). Numpy promotes to double
     * except for the difference of the two float32 table entries.
     */
    static double sigmaToT(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int low = lowIndex(logSigma, logSigmas);
        float lowV = logSigmas[low], highV = logSigmas[low + 1];
        double w = ((double) lowV - logSigma) / (double) (lowV - highV);
        w = Math.min(Math.max(w, 0), 1);
        return (1 - w) * low + w * (low + 1);
    }

    /**
     * The same in torch float32, as KDPM2 runs it on its interpolated sigmas: every step rounds to float.
     */
    static float sigmaToTFloat(float sigma, float[] logSigmas) {
        float logSigma = (float) Math.log(Math.max(sigma, 1e-10f));
        int low = lowIndex(logSigma, logSigmas);
        float lowV = logSigmas[low], highV = logSigmas[low + 1];
        float w = (lowV - logSigma) / (lowV - highV);
        w = Math.min(Math.max(w, 0f), 1f);
        return (1f - w) * (float) low + w * (float) (low + 1);
    }

    /** The last index whose log sigma is at most logSigma (0 if none), capped to leave a right neighbour. */
    private static int lowIndex(double logSigma, float[] logSigmas) {
        int low = 0;
        for (int i = 0; i < logSigmas.length; i++) {
            if (logSigma - logSigmas[i] >= 0) low = i;
        }
        return Math.min(low, logSigmas.length - 2);
    }
}
