package io.jdiffusion.model.addon;

import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.VaeLoader;

import java.nio.file.Path;
import java.util.List;

/**
 * What is put on top of a checkpoint for a run: another VAE and LoRAs, in that order (the VAE replaces the
 * model's; the LoRAs merge into its UNet and text encoder). The checkpoint itself is never changed.
 *
 * @param loras LoRA files with their weights, merged in order (their changes add up)
 * @param vae   a VAE file or diffusers vae folder, or null to keep the model's
 */
public record ModelAddons(List<LoraSpec> loras, Path vae) {
    public static final ModelAddons NONE = new ModelAddons(List.of(), null);

    public ModelAddons {
        loras = List.copyOf(loras);
    }

    public boolean isEmpty() {
        return loras.isEmpty() && vae == null;
    }

    /** The model with these add-ons; the model itself when there are none. */
    public StableDiffusionModel apply(StableDiffusionModel model) {
        return Loras.apply(VaeLoader.swap(model, vae), loras);
    }
}
