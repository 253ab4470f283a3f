package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.prompt.EmbeddingFile;

import java.nio.file.Path;
import java.util.List;

/**
 * One text-to-image job, as the user asked for it. Immutable; {@link #validate()} checks every value
 * at the boundary so the pipeline can trust it.
 *
 * @param model          a single checkpoint file or a diffusers folder
 * @param configDir      a diffusers-style config folder overriding what the loader infers, or null
 * @param prompt         the positive prompt (may be empty)
 * @param negativePrompt the negative prompt ("" for none)
 * @param sampler        a sampler id such as {@code euler_a} or {@code dpmpp_2m_karras}
 * @param seed           the seed of the first image, already resolved (never the "-1 = random" marker);
 *                       read as an unsigned 64-bit number
 * @param clipSkip       1 = the text encoder's last layer, 2 = the penultimate one, ...
 * @param predictionType "epsilon" or "v_prediction" to override the model's, or null to use the detected one
 * @param watermark      whether to add the invisible watermark the reference scripts add
 * @param sizeConditioning SDXL's original size / crop / target size, or null for the defaults (the image's
 *                       size, no crop); other models ignore it
 * @param embeddings     textual-inversion embeddings the prompts may use (empty for none)
 * @param aestheticScores the SDXL refiner's aesthetic scores, or null for the defaults (6.0 and 2.5); other
 *                       models ignore them
 */
public record Txt2ImgRequest(
        Path model,
        Path configDir,
        String prompt,
        String negativePrompt,
        String sampler,
        int steps,
        double cfgScale,
        long seed,
        int width,
        int height,
        int batchSize,
        int clipSkip,
        String predictionType,
        boolean watermark,
        SizeConditioning sizeConditioning,
        List<EmbeddingFile> embeddings,
        AestheticScores aestheticScores) {

    public static final int MIN_SIZE = 8;
    public static final int MAX_SIZE = 4096;
    public static final int MAX_STEPS = 1000;
    public static final int MAX_BATCH_SIZE = 64;

    public Txt2ImgRequest {
        embeddings = embeddings == null ? List.of() : List.copyOf(embeddings);
    }

    /** A request with the default aesthetic scores (they only matter to the SDXL refiner). */
    public Txt2ImgRequest(Path model, Path configDir, String prompt, String negativePrompt, String sampler, int steps,
                          double cfgScale, long seed, int width, int height, int batchSize, int clipSkip,
                          String predictionType, boolean watermark, SizeConditioning sizeConditioning, List<EmbeddingFile> embeddings) {
        this(model, configDir, prompt, negativePrompt, sampler, steps, cfgScale, seed, width, height, batchSize, clipSkip,
                predictionType, watermark, sizeConditioning, embeddings, null);
    }

    /** A request with the default SDXL size conditioning and no textual-inversion embeddings. */
    public Txt2ImgRequest(Path model, Path configDir, String prompt, String negativePrompt, String sampler, int steps,
                          double cfgScale, long seed, int width, int height, int batchSize, int clipSkip,
                          String predictionType, boolean watermark) {
        this(model, configDir, prompt, negativePrompt, sampler, steps, cfgScale, seed, width, height, batchSize, clipSkip,
                predictionType, watermark, null, List.of(), null);
    }

    /** The SDXL size conditioning to use: the one asked for, or the defaults for this image size. */
    public SizeConditioning sizeConditioningOrDefault() {
        return sizeConditioning != null ? sizeConditioning : SizeConditioning.forImage(width, height);
    }

    /** The SDXL refiner's aesthetic scores: the ones asked for, or the defaults. */
    public AestheticScores aestheticScoresOrDefault() {
        return aestheticScores != null ? aestheticScores : AestheticScores.DEFAULT;
    }

    /** The same job at another image size (an explicit size conditioning stays as it is). */
    public Txt2ImgRequest withSize(int newWidth, int newHeight) {
        return new Txt2ImgRequest(model, configDir, prompt, negativePrompt, sampler, steps, cfgScale, seed,
                newWidth, newHeight, batchSize, clipSkip, predictionType, watermark, sizeConditioning, embeddings, aestheticScores);
    }

    /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value. */
    public Txt2ImgRequest validate() {
        if (model == null) throw new JDiffusionException("--model: no model given");
        if (prompt == null) throw new JDiffusionException("--prompt: no prompt given");
        if (negativePrompt == null) throw new JDiffusionException("--negative-prompt: must not be null (use \"\")");
        if (sampler == null || sampler.isBlank()) throw new JDiffusionException("--sampler: no sampler given");
        checkSize("--width", width);
        checkSize("--height", height);
        if (steps < 1 || steps > MAX_STEPS) {
            throw new JDiffusionException("--steps: " + steps + " is outside 1.." + MAX_STEPS);
        }
        if (Double.isNaN(cfgScale) || cfgScale < 0 || Double.isInfinite(cfgScale)) {
            throw new JDiffusionException("--cfg-scale: " + cfgScale + " must be a finite number >= 0");
        }
        if (batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
            throw new JDiffusionException("--batch-size: " + batchSize + " is outside 1.." + MAX_BATCH_SIZE);
        }
        if (clipSkip < 1) {
            throw new JDiffusionException("--clip-skip: " + clipSkip + " must be at least 1 (1 = use the last layer)");
        }
        if (predictionType != null && !predictionType.equals("epsilon") && !predictionType.equals("v_prediction")) {
            throw new JDiffusionException("--prediction-type: '" + predictionType + "' is not one of epsilon, v_prediction");
        }
        if (sizeConditioning != null) sizeConditioning.validate();
        if (aestheticScores != null) aestheticScores.validate();
        return this;
    }

    private static void checkSize(String flag, int value) {
        if (value < MIN_SIZE || value > MAX_SIZE) {
            throw new JDiffusionException(flag + ": " + value + " is outside " + MIN_SIZE + ".." + MAX_SIZE);
        }
        if (value % 8 != 0) {
            throw new JDiffusionException(flag + ": " + value + " is not a multiple of 8 (try "
                    + Math.max(MIN_SIZE, value / 8 * 8) + ")");
        }
    }
}
