package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

/**
 * Told after every network evaluation of a sampling run, for progress and previews; it can stop the
 * run early, which then returns the latents as they are.
 */
@FunctionalInterface
public interface StepListener {

    /**
     * @param step       evaluations done so far in this run, 1-based
     * @param totalSteps evaluations this run will do (Heun and DPM2 evaluate twice per step)
     * @param latents    the current latents (do not modify)
     * @return false to stop sampling after this step
     */
    boolean onStep(int step, int totalSteps, Tensor latents);

    StepListener NONE = (step, total, latents) -> true;
}
