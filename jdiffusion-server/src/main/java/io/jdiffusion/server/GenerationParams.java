package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.SamplerId;

import java.nio.file.Path;
import java.util.random.RandomGenerator;

/**
 * The fields txt2img and img2img share, read from an A1111 request body with A1111's defaults and
 * checked one by one, so a bad value is answered with the field's name before any work is queued.
 *
 * <p>Known A1111 fields asking for something jdiffusion does not do (hires fix, tiling, face
 * restoration, variation seeds, scripts) are refused rather than silently ignored, since the image
 * would not be the one asked for; fields that only tune what we do not have ({@code eta},
 * {@code s_churn}, {@code styles}, {@code save_images}, ...) and unknown fields are ignored.
 *
 * @param model      the model to use, or null for the loaded one ({@code override_settings.sd_model_checkpoint})
 * @param seed       the first batch's seed, resolved ({@code -1} became a random seed)
 * @param batchSize  images per batch: one noise draw from the batch's seed covers them all
 * @param batches    A1111's {@code n_iter}: batches run one after another, batch k with seed + k·batchSize
 */
record GenerationParams(
        ModelCatalog.Entry model,
        String prompt,
        String negativePrompt,
        SamplerId sampler,
        int steps,
        double cfgScale,
        long seed,
        int width,
        int height,
        int batchSize,
        int batches,
        int clipSkip,
        boolean sendImages) {

    static final int DEFAULT_STEPS = 50;     // A1111's API defaults
    static final double DEFAULT_CFG = 7.0;
    static final int DEFAULT_SIZE = 512;
    static final String DEFAULT_SAMPLER = "Euler a";
    static final int MAX_BATCHES = 100;
    static final double MAX_CFG = 100;
    static final int MAX_CLIP_SKIP = 12;

    /** The request for batch {@code k}, as {@code Txt2Img.run} takes it. */
    Txt2ImgRequest request(Path modelPath, int k, boolean watermark) {
        return new Txt2ImgRequest(modelPath, null, prompt, negativePrompt, sampler.id, steps, cfgScale,
                batchSeed(k), width, height, batchSize, clipSkip, null, watermark);
    }

    /** The same parameters for another output size (outpainting's canvas). */
    GenerationParams withSize(int newWidth, int newHeight) {
        return new GenerationParams(model, prompt, negativePrompt, sampler, steps, cfgScale, seed, newWidth, newHeight,
                batchSize, batches, clipSkip, sendImages);
    }

    /** A1111 numbers the seeds of a job consecutively: batch k starts at seed + k·batch_size. */
    long batchSeed(int k) {
        return seed + (long) k * batchSize;
    }

    static GenerationParams parse(RequestFields f, ModelCatalog catalog, ServerSettings settings) {
        refuseUnsupported(f);
        String prompt = f.string("prompt", "");
        String negative = f.string("negative_prompt", "");
        Long seed = f.seed("seed");
        SamplerId sampler = sampler(f);
        int steps = f.integer("steps", DEFAULT_STEPS, 1, Txt2ImgRequest.MAX_STEPS);
        double cfg = f.number("cfg_scale", DEFAULT_CFG, 0, MAX_CFG);
        int width = size(f, "width");
        int height = size(f, "height");
        int batchSize = f.integer("batch_size", 1, 1, Txt2ImgRequest.MAX_BATCH_SIZE);
        int batches = f.integer("n_iter", 1, 1, MAX_BATCHES);
        long pixels = (long) width * height;
        if (pixels > settings.maxPixels()) {
            throw ApiException.invalid("width", width + "x" + height + " is larger than this server's limit of "
                    + settings.maxPixels() + " pixels");
        }
        if (pixels * batchSize > settings.maxPixels() * 4) {
            throw ApiException.invalid("batch_size", batchSize + " images of " + width + "x" + height
                    + " is more than this server makes at once; use n_iter for more batches");
        }
        boolean sendImages = f.bool("send_images", true);

        RequestFields overrides = f.object("override_settings");
        int clipSkip = overrides.integer("CLIP_stop_at_last_layers", settings.clipSkip(), 1, MAX_CLIP_SKIP);
        String checkpoint = overrides.string("sd_model_checkpoint", null);
        ModelCatalog.Entry model = checkpoint == null ? null : catalog.resolve(overrides.name("sd_model_checkpoint"), checkpoint);

        long resolvedSeed = seed != null ? seed : RandomGenerator.getDefault().nextLong(1L << 32); // typeable in A1111 too
        return new GenerationParams(model, prompt, negative, sampler, steps, cfg, resolvedSeed, width, height,
                batchSize, batches, clipSkip, sendImages);
    }

    /**
     * A1111's {@code sampler_name} (or the older {@code sampler_index}) with its {@code scheduler}
     * ("Automatic", "Karras"); also our ids ("dpmpp_2m_karras") and the combined names
     * ("DPM++ 2M Karras") that {@code GET /sdapi/v1/samplers} lists.
     */
    static SamplerId sampler(RequestFields f) {
        String field = f.has("sampler_name") ? "sampler_name" : f.has("sampler_index") ? "sampler_index" : "sampler_name";
        String name = f.string(field, DEFAULT_SAMPLER);
        String scheduler = f.string("scheduler", "Automatic");
        if (!scheduler.isBlank() && !scheduler.equalsIgnoreCase("Automatic") && !scheduler.equalsIgnoreCase("Karras")) {
            throw ApiException.invalid("scheduler", "'" + scheduler + "' is not a schedule type we have (Automatic, Karras)");
        }
        boolean automatic = scheduler.isBlank() || scheduler.equalsIgnoreCase("Automatic");
        if (automatic) {
            try {
                return SamplerId.parse(name);
            } catch (JDiffusionException notAnIdOrCombinedName) {
                // try A1111's sampler names below
            }
        }
        SamplerId s = SamplerId.fromA1111(name, scheduler);
        if (s == null && automatic) {
            // "Automatic" means the sampler's own schedule: where we have that sampler with one schedule only, it is that one
            SamplerId only = null;
            int count = 0;
            for (SamplerId candidate : SamplerId.values()) {
                if (candidate.a1111Name.equalsIgnoreCase(name.strip())) {
                    only = candidate;
                    count++;
                }
            }
            if (count == 1) s = only;
        }
        if (s == null) {
            throw ApiException.invalid(field, "unknown sampler '" + name + "'" + (automatic ? "" : " with schedule " + scheduler)
                    + " (see GET /sdapi/v1/samplers)");
        }
        return s;
    }

    private static int size(RequestFields f, String field) {
        int v = f.integer(field, DEFAULT_SIZE, Txt2ImgRequest.MIN_SIZE, Txt2ImgRequest.MAX_SIZE);
        if (v % 8 != 0) throw ApiException.invalid(field, v + " is not a multiple of 8 (try " + v / 8 * 8 + ")");
        return v;
    }

    /** Fields whose non-default values ask for features jdiffusion does not have. */
    private static void refuseUnsupported(RequestFields f) {
        if (f.bool("tiling", false)) throw ApiException.invalid("tiling", "tiling is not supported");
        if (f.bool("restore_faces", false)) throw ApiException.invalid("restore_faces", "face restoration is not supported");
        if (f.number("subseed_strength", 0, 0, 1) != 0) {
            throw ApiException.invalid("subseed_strength", "variation seeds are not supported (use 0)");
        }
        String script = f.string("script_name", null);
        if (script != null && !script.isBlank() && !script.equalsIgnoreCase("None")) {
            throw ApiException.invalid("script_name", "scripts are not supported");
        }
        JsonNode always = f.raw("alwayson_scripts");
        if (always != null && !(always.isObject() && always.isEmpty())) {
            throw ApiException.invalid("alwayson_scripts", "scripts and extensions are not supported (send {})");
        }
    }
}
