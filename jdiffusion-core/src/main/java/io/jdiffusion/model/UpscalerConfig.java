package io.jdiffusion.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.sampling.SchedulerConfig;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the SD x4 upscaler's pipeline adds to a Stable Diffusion model (diffusers' StableDiffusionUpscalePipeline):
 * the schedule that noises the low-resolution image ({@code low_res_scheduler/scheduler_config.json}) and the
 * highest noise level the pipeline accepts ({@code max_noise_level} in model_index.json). A folder that lacks
 * either, and a single file, get the published model's values.
 *
 * @param lowResScheduler the DDPM schedule whose forward process noises the low-resolution image
 * @param maxNoiseLevel   the largest noise level (a training timestep of that schedule) a run may ask for
 */
public record UpscalerConfig(SchedulerConfig lowResScheduler, int maxNoiseLevel) {
    /** stabilityai/stable-diffusion-x4-upscaler's model_index.json. */
    public static final int PUBLISHED_MAX_NOISE_LEVEL = 350;
    /** The noise level the pipeline uses unless told otherwise (diffusers' default). */
    public static final int DEFAULT_NOISE_LEVEL = 20;

    /** The published model's low_res_scheduler: DDPM, scaled_linear betas 0.0001..0.02 over 1000 steps. */
    public static SchedulerConfig publishedLowResScheduler() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("num_train_timesteps", 1000);
        o.put("beta_start", 0.0001);
        o.put("beta_end", 0.02);
        o.put("beta_schedule", "scaled_linear");
        return new SchedulerConfig(o);
    }

    /** The published model's sampling scheduler (DDIM, v-prediction), for a single file that carries none. */
    public static SchedulerConfig publishedScheduler() {
        ObjectNode o = SchedulerConfig.stableDiffusionDefault().values().deepCopy();
        o.put("beta_start", 0.0001);
        o.put("beta_end", 0.02);
        o.put("prediction_type", "v_prediction");
        return new SchedulerConfig(o);
    }

    /** The model's upscaler settings: from its folder where it has them, else the published ones. */
    public static UpscalerConfig of(StableDiffusionModel model) {
        SchedulerConfig lowRes = publishedLowResScheduler();
        int maxNoiseLevel = PUBLISHED_MAX_NOISE_LEVEL;
        if (StableDiffusionModel.DIFFUSERS_FOLDER.equals(model.layout())) {
            Path dir = Path.of(model.source());
            Path lowResConfig = dir.resolve("low_res_scheduler").resolve("scheduler_config.json");
            if (Files.isRegularFile(lowResConfig)) lowRes = SchedulerConfig.fromJson(Json.read(lowResConfig));
            Path index = dir.resolve("model_index.json");
            if (Files.isRegularFile(index)) {
                JsonNode max = Json.read(index).get("max_noise_level");
                if (max != null && !max.isNull()) {
                    if (!max.isIntegralNumber() || !max.canConvertToInt() || max.asInt() < 0) {
                        throw new JDiffusionException(index + ": max_noise_level must be a whole number >= 0, got " + max);
                    }
                    maxNoiseLevel = max.asInt();
                }
            }
        }
        return new UpscalerConfig(lowRes, maxNoiseLevel);
    }
}
