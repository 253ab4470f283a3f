package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

/**
 * One sampler set up for a number of inference steps: the timesteps at which the network is evaluated,
 * and the update that each evaluation drives. Each subclass is the computation of one diffusers
 * scheduler, in the order diffusers performs it, including its draws from the one seeded noise source.
 *
 * <p>txt2img: {@code sample(model, rng.randn(shape), rng, listener)}; the sampler scales the raw noise by
 * its initial sigma. img2img: {@code int start = startIndex(strength)}, draw {@code noise}, then
 * {@code denoise(model, addNoise(x0, noise, start), start, rng, null, listener)}. Inpainting with a
 * 4-channel model additionally passes a {@link LatentsHook}.
 *
 * <p>The network sees the input-scaled latents and {@link #timesteps()}[i]; it returns its raw output
 * (epsilon, v or x0 as the config's prediction_type says), guidance already applied. A sampler is
 * stateful while it runs; one instance serves one run at a time.
 */
public abstract class Sampler {
    protected final SchedulerConfig config;
    protected final Prediction prediction;
    protected final int numInferenceSteps;
    /** The model timestep for each network evaluation, in order. */
    protected double[] timesteps;

    protected Sampler(SchedulerConfig config, int numInferenceSteps) {
        if (numInferenceSteps < 1) {
            throw new JDiffusionException("steps must be at least 1, got " + numInferenceSteps);
        }
        int train = config.intOr("num_train_timesteps", 1000);
        if (numInferenceSteps > train) {
            throw new JDiffusionException("steps " + numInferenceSteps + " exceeds the model's "
                    + train + " training timesteps");
        }
        this.config = config;
        this.prediction = Prediction.of(config);
        this.numInferenceSteps = numInferenceSteps;
    }

    /** The model timestep of every network evaluation (Heun and DPM2 evaluate twice per step). */
    public final double[] timesteps() {
        return timesteps.clone();
    }

    /** The float32 sigmas of a sigma-space sampler, as diffusers' scheduler.sigmas; null for the others. */
    public float[] sigmas() {
        return null;
    }

    public final int numInferenceSteps() {
        return numInferenceSteps;
    }

    /** The scale of the initial noise for txt2img (diffusers' init_noise_sigma). */
    public float initNoiseSigma() {
        return 1f;
    }

    /** Entries of {@link #timesteps()} per inference step (diffusers' scheduler.order). */
    public int order() {
        return 1;
    }

    /**
     * Where img2img starts for this denoising strength in (0, 1]: diffusers keeps the last
     * ⌊steps·strength⌋ steps of the schedule.
     */
    public final int startIndex(double strength) {
        if (!(strength > 0 && strength <= 1)) {
            throw new JDiffusionException("strength must be in (0, 1], got " + strength);
        }
        int init = Math.min((int) (numInferenceSteps * strength), numInferenceSteps);
        int tStart = Math.max(numInferenceSteps - init, 0);
        return tStart * order();
    }

    /**
     * The clean latents {@code original} noised to the level of {@link #timesteps()}[index] with
     * {@code noise}, as this scheduler's add_noise (img2img's start, inpainting's known region).
     */
    public abstract Tensor addNoise(Tensor original, Tensor noise, int index);

    /** Clears the multistep state before a run that starts at this index. */
    protected abstract void reset(int beginIndex);

    /** The latents as the network must see them at timesteps[index] (scale_model_input). */
    protected Tensor scaleModelInput(Tensor sample, int index) {
        return sample;
    }

    /** One update from the network's output at timesteps[index]; returns the next latents. */
    protected abstract Tensor step(Tensor modelOutput, int index, Tensor sample, NoiseSource noise);

    /** txt2img: runs the whole schedule from raw standard-normal noise. */
    public final Tensor sample(NoisePredictor model, Tensor noise, NoiseSource rng, StepListener listener) {
        Tensor latents = Elementwise.mul(initNoiseSigma(), noise);
        return denoise(model, latents, 0, rng, null, listener);
    }

    /**
     * Runs the schedule from {@code startIndex} on latents already at that noise level.
     *
     * @param hook     may be null
     * @param listener may be null
     */
    public final Tensor denoise(NoisePredictor model, Tensor latents, int startIndex, NoiseSource rng,
                                LatentsHook hook, StepListener listener) {
        if (startIndex < 0 || startIndex >= timesteps.length) {
            throw new IllegalArgumentException("start index " + startIndex + " outside 0.." + (timesteps.length - 1));
        }
        reset(startIndex);
        int total = timesteps.length - startIndex;
        for (int i = startIndex; i < timesteps.length; i++) {
            Tensor input = scaleModelInput(latents, i);
            Tensor output = model.predict(input, timesteps[i]);
            if (output.data.length != latents.data.length) {
                throw new IllegalStateException("model output " + output.shapeString()
                        + " does not match latents " + latents.shapeString());
            }
            latents = step(output, i, latents, rng);
            if (hook != null) latents = hook.afterStep(i, latents);
            if (listener != null && !listener.onStep(i - startIndex + 1, total, latents)) break;
        }
        return latents;
    }
}
