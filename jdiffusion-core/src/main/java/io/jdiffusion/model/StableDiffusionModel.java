package io.jdiffusion.model;

import io.jdiffusion.sampling.SchedulerConfig;
import io.jdiffusion.tensor.Weights;

/**
 * A loaded checkpoint, whatever its layout: configs and weights for each network, all weights in
 * diffusers/transformers naming relative to the network (the UNet's {@code conv_in.weight}, the VAE's
 * {@code decoder.conv_in.weight}, ...), still memory-mapped in their stored dtype.
 *
 * @param source     the path the user gave, for messages
 * @param layout     "diffusers folder" or "single file", for {@code jdiffusion info}
 * @param scheduler  the model's scheduler config (or the family's published one for single files);
 *                   its prediction_type says epsilon or v_prediction
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
        SchedulerConfig scheduler) {

    /** "epsilon" or "v_prediction". */
    public String predictionType() {
        return scheduler.textOr("prediction_type", "epsilon");
    }
}
