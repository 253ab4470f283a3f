package io.jdiffusion.model;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.sampling.SchedulerConfig;
import io.jdiffusion.tensor.Weights;

import java.util.Set;

/**
 * A loaded checkpoint, whatever its layout: configs and weights for each network, all weights in
 * diffusers/transformers naming relative to the network (the UNet's {@code conv_in.weight}, the VAE's
 * {@code decoder.conv_in.weight}, ...), still memory-mapped in their stored dtype.
 *
 * @param source     the path the user gave, for messages
 * @param layout     {@link #DIFFUSERS_FOLDER} or {@link #SINGLE_FILE}, for {@code jdiffusion info}
 * @param scheduler  the model's scheduler config (or the family's published one for single files);
 *                   its prediction_type says epsilon or v_prediction
 * @param textEncoder  the (first) text encoder; null for the SDXL refiner, which has only the second
 * @param textEncoder2 SDXL's second text encoder (OpenCLIP ViT-bigG with its projection), null for SD 1.x / 2.x;
 *                   {@code textEncoder} is then SDXL's first (CLIP ViT-L)
 * @param forceZerosForEmptyPrompt SDXL: an empty negative prompt conditions on zeros rather than on the
 *                   encoded empty text (the pipeline config's force_zeros_for_empty_prompt)
 */
public record StableDiffusionModel(
        String source,
        String layout,
        ModelFamily family,
        TextEncoderSpec textEncoder,
        UNetConfig unetConfig,
        Weights unet,
        VaeConfig vaeConfig,
        Weights vae,
        SchedulerConfig scheduler,
        TextEncoderSpec textEncoder2,
        boolean forceZerosForEmptyPrompt) {

    public static final String DIFFUSERS_FOLDER = "diffusers folder";
    public static final String SINGLE_FILE = "single file";

    /** An SD 1.x / 2.x model: one text encoder. */
    public StableDiffusionModel(String source, String layout, ModelFamily family, TextEncoderSpec textEncoder,
                                UNetConfig unetConfig, Weights unet, VaeConfig vaeConfig, Weights vae, SchedulerConfig scheduler) {
        this(source, layout, family, textEncoder, unetConfig, unet, vaeConfig, vae, scheduler, null, false);
    }

    /**
     * Whether this is an SDXL refiner: OpenCLIP ViT-bigG alone conditions it, and its UNet's time ids end with an
     * aesthetic score instead of the target size.
     */
    public boolean isSdxlRefiner() {
        return textEncoder == null && textEncoder2 != null;
    }

    /** What the UNet predicts, as diffusers names it: the scheduler config's prediction_type. */
    public static final Set<String> PREDICTION_TYPES = Set.of("epsilon", "v_prediction");

    /** "epsilon" or "v_prediction" (what the config says); epsilon when it does not say. */
    public String predictionType() {
        return scheduler.textOr("prediction_type", "epsilon");
    }

    /** The same model with the prediction type set (--prediction-type: a single file cannot tell it). */
    public StableDiffusionModel withPredictionType(String type) {
        if (!PREDICTION_TYPES.contains(type)) {
            throw new JDiffusionException("--prediction-type: '" + type + "' is not one of epsilon, v_prediction");
        }
        return withScheduler(scheduler.with("prediction_type", type));
    }

    public StableDiffusionModel withScheduler(SchedulerConfig newScheduler) {
        return new StableDiffusionModel(source, layout, family, textEncoder, unetConfig, unet, vaeConfig, vae, newScheduler,
                textEncoder2, forceZerosForEmptyPrompt);
    }

    /** The same model with other UNet weights of the same architecture (LoRAs merged in). */
    public StableDiffusionModel withUnetWeights(Weights newUnet) {
        return new StableDiffusionModel(source, layout, family, textEncoder, unetConfig, newUnet, vaeConfig, vae, scheduler,
                textEncoder2, forceZerosForEmptyPrompt);
    }

    /** The same model with another text encoder (LoRAs merged in). */
    public StableDiffusionModel withTextEncoder(TextEncoderSpec newTextEncoder) {
        return new StableDiffusionModel(source, layout, family, newTextEncoder, unetConfig, unet, vaeConfig, vae, scheduler,
                textEncoder2, forceZerosForEmptyPrompt);
    }

    /** The same model with another second text encoder (SDXL; LoRAs merged in). */
    public StableDiffusionModel withTextEncoder2(TextEncoderSpec newTextEncoder2) {
        return new StableDiffusionModel(source, layout, family, textEncoder, unetConfig, unet, vaeConfig, vae, scheduler,
                newTextEncoder2, forceZerosForEmptyPrompt);
    }

    /** The same model with another VAE (--vae). */
    public StableDiffusionModel withVae(VaeConfig newVaeConfig, Weights newVae) {
        return new StableDiffusionModel(source, layout, family, textEncoder, unetConfig, unet, newVaeConfig, newVae, scheduler,
                textEncoder2, forceZerosForEmptyPrompt);
    }
}
