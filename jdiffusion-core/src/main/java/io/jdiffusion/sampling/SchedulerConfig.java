package io.jdiffusion.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.model.Json;

/**
 * A model's scheduler config (diffusers {@code scheduler/scheduler_config.json}). Only the keys present
 * are kept: a sampler uses a key when the model's config has it and its own default otherwise, which is
 * how diffusers' {@code from_config} behaves (so "timestep_spacing" absent means each sampler's default).
 */
public record SchedulerConfig(ObjectNode values) {

    /**
     * A config as read from scheduler_config.json. Keys that diffusers lists in "_use_default_values"
     * were never set by the model's author, only filled with the saving class's defaults, so from_config
     * drops them (and so do we): another scheduler then uses its own defaults for them.
     */
    public static SchedulerConfig fromJson(JsonNode n) {
        ObjectNode o = n.deepCopy();
        JsonNode defaulted = o.remove("_use_default_values");
        if (defaulted != null && defaulted.isArray()) defaulted.forEach(k -> o.remove(k.asText()));
        return new SchedulerConfig(o);
    }

    /** The published SD 1.x / 2.x (512) scheduler config, for single files that carry none. */
    public static SchedulerConfig stableDiffusionDefault() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("num_train_timesteps", 1000);
        o.put("beta_start", 0.00085);
        o.put("beta_end", 0.012);
        o.put("beta_schedule", "scaled_linear");
        o.put("steps_offset", 1);
        o.put("set_alpha_to_one", false);
        o.put("skip_prk_steps", true);
        o.put("clip_sample", false);
        return new SchedulerConfig(o);
    }

    public boolean has(String key) {
        return values.hasNonNull(key);
    }

    public int intOr(String key, int dflt) {
        return Json.intOr(values, key, dflt);
    }

    public double doubleOr(String key, double dflt) {
        return Json.doubleOr(values, key, dflt);
    }

    public boolean boolOr(String key, boolean dflt) {
        return Json.boolOr(values, key, dflt);
    }

    public String textOr(String key, String dflt) {
        return Json.textOr(values, key, dflt);
    }

    /** A copy with one key set (e.g. prediction_type from --prediction-type). */
    public SchedulerConfig with(String key, String value) {
        ObjectNode o = values.deepCopy();
        o.put(key, value);
        return new SchedulerConfig(o);
    }
}
