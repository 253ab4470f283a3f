package io.jdiffusion.pipeline;

/** Told after each sampling step; {@code step} counts from 1 to {@code totalSteps}. */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (step, totalSteps) -> {
    };

    void onStep(int step, int totalSteps);
}
