package io.jdiffusion.sampling;

import io.jdiffusion.JDiffusionException;

/** What the network predicts (the scheduler config's prediction_type). */
enum Prediction {
    EPSILON, V_PREDICTION, SAMPLE;

    static Prediction of(SchedulerConfig config) {
        String p = config.textOr("prediction_type", "epsilon");
        return switch (p) {
            case "epsilon" -> EPSILON;
            case "v_prediction" -> V_PREDICTION;
            case "sample", "original_sample" -> SAMPLE;
            default -> throw new JDiffusionException("scheduler config: prediction_type '" + p
                    + "' is not supported (epsilon, v_prediction, sample)");
        };
    }
}
