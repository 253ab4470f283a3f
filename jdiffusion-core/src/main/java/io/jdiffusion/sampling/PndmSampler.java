package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

import static io.jdiffusion.sampling.Elementwise.add;
import static io.jdiffusion.sampling.Elementwise.div;
import static io.jdiffusion.sampling.Elementwise.mul;
import static io.jdiffusion.sampling.Elementwise.sqrt;
import static io.jdiffusion.sampling.Elementwise.sub;

/**
 * Pseudo numerical methods (diffusers PNDMScheduler). With skip_prk_steps (the SD 1.x config, A1111's
 * "PLMS") it is linear multistep from the start: the first step is taken twice, the second time with
 * the mean of the two outputs; without it, the first three steps are Runge-Kutta (four evaluations
 * each). The update works on timestep values, exactly as diffusers does (img2img starts included).
 */
final class PndmSampler extends Sampler {
    private static final float ONE_SIXTH = (float) (1.0 / 6);
    private static final float ONE_THIRD = (float) (1.0 / 3);
    private final NoiseSchedule schedule;
    private final float finalAlphaCumprod;
    private final boolean skipPrk;
    private final int stepSize;
    private final int prkCount;
    private final int[] prkTimesteps;

    private final List<Tensor> ets = new ArrayList<>();
    private int counter;
    private Tensor curSample;
    private Tensor curModelOutput;

    PndmSampler(SchedulerConfig config, int steps) {
        super(config, steps);
        if (prediction == Prediction.SAMPLE) {
            throw new JDiffusionException("scheduler config: the pndm sampler supports prediction_type "
                    + "epsilon or v_prediction, not sample");
        }
        schedule = NoiseSchedule.create(config, NoiseSchedule.BetaDefaults.LINEAR_DDPM, false);
        finalAlphaCumprod = config.boolOr("set_alpha_to_one", false) ? 1f : schedule.alphasCumprod[0];
        skipPrk = config.boolOr("skip_prk_steps", false);
        int train = schedule.numTrainTimesteps;
        stepSize = train / steps;

        // the inference timesteps, ascending
        double[] base = switch (Spacing.spacing(config, "leading")) {
            case "linspace" -> {
                double[] t = Spacing.linspace(0, train - 1, steps);
                for (int i = 0; i < t.length; i++) t[i] = Spacing.round(t[i]);
                yield t;
            }
            case "leading" -> {
                double[] t = new double[steps];
                for (int i = 0; i < steps; i++) t[i] = (double) i * stepSize + config.intOr("steps_offset", 0);
                yield t;
            }
            default -> {
                double[] t = Spacing.reversed(Spacing.arangeDown(train, (double) train / steps));
                for (int i = 0; i < t.length; i++) t[i] = Spacing.round(t[i]) - 1;
                yield t;
            }
        };
        int m = base.length;
        List<Double> all = new ArrayList<>();
        if (skipPrk) {
            // [t_0 .. t_m-2, t_m-2, t_m-1] reversed: the second-to-last (in descending order, the
            // second) timestep repeats
            for (int i = m - 1; i >= 0; i--) {
                all.add(base[i]);
                if (i == m - 2) all.add(base[i]);
            }
            prkTimesteps = new int[0];
        } else {
            if (m < 4) throw new JDiffusionException("the pndm sampler without skip_prk_steps needs at least 4 steps");
            // the last four timesteps each with its half-step successor, every entry but the ends doubled
            int half = stepSize / 2;
            int[] pairs = new int[8];
            for (int k = 0; k < 4; k++) {
                pairs[2 * k] = (int) base[m - 4 + k];
                pairs[2 * k + 1] = (int) base[m - 4 + k] + half;
            }
            int[] doubled = new int[14];
            for (int k = 0; k < 7; k++) {
                doubled[2 * k] = pairs[k];
                doubled[2 * k + 1] = pairs[k];
            }
            prkTimesteps = new int[12];
            for (int k = 0; k < 12; k++) prkTimesteps[k] = doubled[12 - k];
            for (int v : prkTimesteps) all.add((double) v);
            for (int i = m - 4; i >= 0; i--) all.add(base[i]);
        }
        prkCount = prkTimesteps.length;
        timesteps = all.stream().mapToDouble(Double::doubleValue).toArray();
    }

    @Override
    protected void reset(int beginIndex) {
        ets.clear();
        counter = 0;
        curSample = null;
        curModelOutput = null;
    }

    @Override
    protected Tensor step(Tensor modelOutput, int i, Tensor x, NoiseSource noise) {
        int t = (int) timesteps[i];
        return counter < prkCount && !skipPrk ? stepPrk(modelOutput, t, x) : stepPlms(modelOutput, t, x);
    }

    private Tensor stepPrk(Tensor out, int t, Tensor x) {
        int diffToPrev = counter % 2 != 0 ? 0 : stepSize / 2;
        int prevT = t - diffToPrev;
        int fromT = prkTimesteps[counter / 4 * 4];
        Tensor output = out;
        switch (counter % 4) {
            case 0 -> {
                curModelOutput = mul(ONE_SIXTH, out);
                ets.add(out);
                curSample = x;
            }
            case 1, 2 -> curModelOutput = add(curModelOutput, mul(ONE_THIRD, out));
            default -> {
                output = add(curModelOutput, mul(ONE_SIXTH, out));
                curModelOutput = null;
            }
        }
        Tensor from = curSample != null ? curSample : x;
        Tensor prev = previousSample(from, fromT, prevT, output);
        counter++;
        return prev;
    }

    private Tensor stepPlms(Tensor out, int t, Tensor x) {
        int prevT = t - stepSize;
        if (counter != 1) {
            while (ets.size() > 3) ets.removeFirst();
            ets.add(out);
        } else {
            // the repeated first step: from the same sample and timestep as before
            prevT = t;
            t = t + stepSize;
        }
        Tensor output;
        int n = ets.size();
        if (n == 1 && counter == 0) {
            output = out;
            curSample = x;
        } else if (n == 1 && counter == 1) {
            output = div(add(out, ets.get(0)), 2f);
            x = curSample;
            curSample = null;
        } else if (n == 2) {
            output = div(sub(mul(3f, ets.get(1)), ets.get(0)), 2f);
        } else if (n == 3) {
            output = div(add(sub(mul(23f, ets.get(2)), mul(16f, ets.get(1))), mul(5f, ets.get(0))), 12f);
        } else {
            Tensor sum = sub(add(sub(mul(55f, ets.get(n - 1)), mul(59f, ets.get(n - 2))),
                    mul(37f, ets.get(n - 3))), mul(9f, ets.get(n - 4)));
            output = mul((float) (1.0 / 24), sum);
        }
        Tensor prev = previousSample(x, t, prevT, output);
        counter++;
        return prev;
    }

    /** Formula (9) of the PNDM paper: x_t-δ from x_t and the (combined) epsilon. */
    private Tensor previousSample(Tensor x, int t, int prevT, Tensor output) {
        float alphaProd = schedule.alphasCumprod[t];
        float alphaProdPrev = prevT >= 0 ? schedule.alphasCumprod[prevT] : finalAlphaCumprod;
        float betaProd = 1f - alphaProd;
        float betaProdPrev = 1f - alphaProdPrev;
        if (prediction == Prediction.V_PREDICTION) {
            output = add(mul(sqrt(alphaProd), output), mul(sqrt(betaProd), x));
        }
        float sampleCoeff = sqrt(alphaProdPrev / alphaProd);
        float denom = alphaProd * sqrt(betaProdPrev) + sqrt(alphaProd * betaProd * alphaProdPrev);
        Tensor scaledOutput = div(mul(alphaProdPrev - alphaProd, output), denom);
        return sub(mul(sampleCoeff, x), scaledOutput);
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int index) {
        return DdimSampler.addNoiseAt(schedule.alphasCumprod[(int) timesteps[index]], original, noise);
    }
}
