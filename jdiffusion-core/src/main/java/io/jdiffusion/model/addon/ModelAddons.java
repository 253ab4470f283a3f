package io.jdiffusion.model.addon;

import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.TaesdLoader;
import io.jdiffusion.model.VaeLoader;
import io.jdiffusion.model.vae.Taesd;
import io.jdiffusion.model.unet.AttentionInputs;

import io.jdiffusion.JDiffusionException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What is put on top of a checkpoint for a run: another VAE and LoRAs, in that order (the VAE replaces the
 * model's; the LoRAs merge into its UNet and text encoder), and hypernetworks, which change what the
 * UNet's attention keys and values see. The checkpoint itself is never changed.
 *
 * @param loras         LoRA files with their weights, merged in order (their changes add up)
 * @param vae           a VAE file or diffusers vae folder, or a TAESD (folder or file: it then decodes and encodes
 *                      instead of the model's VAE, see {@link #taesd()}), or null to keep the model's
 * @param hypernetworks A1111 hypernetwork files with their strengths, applied one after the other
 */
public record ModelAddons(List<LoraSpec> loras, Path vae, List<HypernetworkSpec> hypernetworks) {
    public static final ModelAddons NONE = new ModelAddons(List.of(), null);

    /** A hypernetwork file and its strength ({@code <hypernet:NAME:STRENGTH>}). */
    public record HypernetworkSpec(Path file, double strength) {
    }

    public ModelAddons {
        loras = List.copyOf(loras);
        hypernetworks = List.copyOf(hypernetworks);
    }

    public ModelAddons(List<LoraSpec> loras, Path vae) {
        this(loras, vae, List.of());
    }

    /**
     * The LoRAs and hypernetworks a prompt's {@code <lora:NAME:...>} and {@code <hypernet:NAME:...>} tags name,
     * found by name in the A1111 folder {@code models} (null when there is none: then a tag is an error naming it).
     */
    public static ModelAddons fromTags(ExtraNetworks tags, ModelsDir models) {
        List<LoraSpec> loras = new ArrayList<>();
        for (ExtraNetworks.LoraTag tag : tags.loras()) {
            if (models == null) throw new JDiffusionException("prompt: <lora:" + tag.name() + ":...> needs --models-dir to find the LoRA");
            loras.add(new LoraSpec(models.find(ModelsDir.Kind.LORA, tag.name()), tag.textEncoderWeight(), tag.unetWeight()));
        }
        List<HypernetworkSpec> hypernetworks = new ArrayList<>();
        for (ExtraNetworks.HypernetTag tag : tags.hypernets()) {
            if (models == null) throw new JDiffusionException("prompt: <hypernet:" + tag.name() + ":...> needs --models-dir to find the hypernetwork");
            hypernetworks.add(new HypernetworkSpec(models.find(ModelsDir.Kind.HYPERNETWORK, tag.name()), tag.strength()));
        }
        return new ModelAddons(loras, null, hypernetworks);
    }

    public boolean isEmpty() {
        return loras.isEmpty() && vae == null && hypernetworks.isEmpty();
    }

    /** What the UNet's attention keys and values see: the hypernetworks in order, or the plain context. */
    public AttentionInputs attentionInputs() {
        if (hypernetworks.isEmpty()) return AttentionInputs.NONE;
        List<Hypernetwork.Applied> applied = hypernetworks.stream()
                .map(h -> new Hypernetwork.Applied(Hypernetwork.read(h.file()), h.strength())).toList();
        return Hypernetwork.chain(applied);
    }

    /** The model with these add-ons; the model itself when there are none. A TAESD leaves the model's VAE in place. */
    public StableDiffusionModel apply(StableDiffusionModel model) {
        return Loras.apply(vae == null || TaesdLoader.isTaesd(vae) ? model : VaeLoader.swap(model, vae), loras);
    }

    /** The TAESD that {@code vae} names, to decode with instead of the VAE; null when it is none (or no VAE is given). */
    public Taesd taesd() {
        return vae != null && TaesdLoader.isTaesd(vae) ? TaesdLoader.load(vae) : null;
    }
}
