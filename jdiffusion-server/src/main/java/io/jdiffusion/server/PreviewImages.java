package io.jdiffusion.server;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelFamily;
import io.jdiffusion.model.TaesdLoader;
import io.jdiffusion.model.vae.Taesd;
import io.jdiffusion.pipeline.LatentPreview;
import io.jdiffusion.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * How {@code /sdapi/v1/progress} draws its {@code current_image}: the cheap linear latent → RGB mix at latent size
 * (the default), or with {@code serve --preview taesd} the tiny autoencoder at full size. The TAESD has to fit the
 * running model's latent space, so one is found per model family, when a preview of that family is first asked
 * for; a family whose TAESD cannot be had falls back to the linear mix (logged once).
 */
public final class PreviewImages {
    private static final Logger LOG = LoggerFactory.getLogger(PreviewImages.class);

    /** The linear mix for every family. */
    public static final PreviewImages LINEAR = new PreviewImages(null);

    private final Function<ModelFamily, Path> taesdFor; // null: linear only
    private final Map<ModelFamily, Optional<Taesd>> loaded = new ConcurrentHashMap<>();

    private PreviewImages(Function<ModelFamily, Path> taesdFor) {
        this.taesdFor = taesdFor;
    }

    /** TAESD previews, the TAESD of each family (file or folder) given by {@code taesdFor} (which may download it). */
    public static PreviewImages taesd(Function<ModelFamily, Path> taesdFor) {
        return new PreviewImages(java.util.Objects.requireNonNull(taesdFor, "taesdFor"));
    }

    /** The first image of a latent batch of a model of this family (null: unknown, the SD 1.x/2.x mix) as PNG bytes. */
    byte[] png(Tensor latents, ModelFamily family) {
        Taesd taesd = family == null || taesdFor == null ? null : loaded.computeIfAbsent(family, this::load).orElse(null);
        return taesd != null && taesd.latentChannels() == latents.dim(1) ? LatentPreview.taesdPng(latents, taesd)
                : LatentPreview.png(latents, family);
    }

    private Optional<Taesd> load(ModelFamily family) {
        try {
            return Optional.of(TaesdLoader.load(taesdFor.apply(family)));
        } catch (JDiffusionException e) {
            LOG.warn("no TAESD for {} previews, drawing them with the linear mix: {}", family.displayName, e.getMessage());
            return Optional.empty();
        }
    }
}
