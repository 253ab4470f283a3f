package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.model.ModelFamily;
import io.jdiffusion.model.vae.Taesd;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;

/**
 * A cheap look at latents while sampling runs, with no VAE: each pixel's RGB is a fixed linear mix of its
 * latent channels, at latent resolution (1/8 of the image's sides). What A1111 calls "Approx cheap".
 *
 * <p>The mixes are the published per-family fits of RGB against the VAE's (scaled) latents: for SD 1.x/2.x
 * (one VAE latent space) the coefficients from the Hugging Face forum thread "Decoding latents to RGB without
 * upscaling" (discuss.huggingface.co/t/23204), for SDXL's VAE the refit A1111 publishes in its
 * {@code modules/sd_vae_approx.py}; both map latents to roughly [-1, 1]. Latent spaces of other channel counts
 * show their first three channels.
 *
 * <p>A1111 mixes the sampler's denoised estimate; a {@link StepListener} sees the current noisy latents, whose
 * spread early in sampling is the noise level (up to ~15). So the latents are first divided by their standard
 * deviation when it exceeds 1: the preview shows structure instead of saturating.
 *
 * <p>With a {@link Taesd} the preview is that tiny decoder's picture instead, at full image size (A1111's
 * "TAESD" live preview), from the latents tamed the same way.
 */
public final class LatentPreview {
    /** SD 1.x/2.x: rgb[c] = Σ_k latent[k] · SD[k][c]. */
    private static final float[][] SD = {
            {0.298f, 0.207f, 0.208f},
            {0.187f, 0.286f, 0.173f},
            {-0.158f, 0.189f, 0.264f},
            {-0.184f, -0.271f, -0.473f},
    };
    /** SDXL's VAE latent space. */
    private static final float[][] SDXL = {
            {0.3448f, 0.4168f, 0.4395f},
            {-0.1953f, -0.0290f, 0.0250f},
            {0.1074f, 0.0886f, -0.0163f},
            {-0.3730f, -0.2499f, -0.2088f},
    };

    private LatentPreview() {
    }

    /**
     * Image {@code index} of a [B, C, h, w] latent batch as an h × w picture.
     *
     * @param family the model's family (picks the mix); null = SD 1.x/2.x
     */
    public static RgbImage rgb(Tensor latents, int index, ModelFamily family) {
        int channels = latents.dim(1), h = latents.dim(2), w = latents.dim(3), plane = h * w;
        float[][] mix = channels != 4 ? null : family == ModelFamily.SDXL ? SDXL : SD;
        float[] d = latents.data;
        int offset = index * channels * plane;
        float scale = 1f / (float) Math.max(1.0, spread(d, offset, channels * plane));
        byte[] rgb = new byte[plane * 3];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                float v;
                if (mix != null) {
                    v = 0;
                    for (int k = 0; k < channels; k++) v += d[offset + k * plane + i] * mix[k][c];
                } else {
                    v = d[offset + Math.min(c, channels - 1) * plane + i] * 0.25f; // latents have roughly unit scale
                }
                float level = (v * scale + 1f) * 127.5f;
                rgb[i * 3 + c] = (byte) Math.round(Math.min(255f, Math.max(0f, level)));
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /** Image {@code index} of a [B, C, h, w] latent batch decoded by the TAESD, at full size. */
    public static RgbImage taesdRgb(Tensor latents, int index, Taesd taesd) {
        int perImage = latents.numel() / latents.dim(0);
        Tensor one = latents.slice0(index, 1).copy();
        float scale = 1f / (float) Math.max(1.0, spread(latents.data, index * perImage, perImage));
        if (scale != 1f) for (int i = 0; i < one.data.length; i++) one.data[i] *= scale;
        Tensor image = taesd.decode(one);
        return new RgbImage(image.dim(3), image.dim(2), LoadedModel.toRgb8(image)[0]);
    }

    /** The first image of a latent batch, TAESD-decoded, as PNG bytes. */
    public static byte[] taesdPng(Tensor latents, Taesd taesd) {
        RgbImage img = taesdRgb(latents, 0, taesd);
        return Png.encode(img.width(), img.height(), img.rgb(), Map.of());
    }

    /** The first image of a latent batch as PNG bytes. */
    public static byte[] png(Tensor latents, ModelFamily family) {
        RgbImage img = rgb(latents, 0, family);
        return Png.encode(img.width(), img.height(), img.rgb(), Map.of());
    }

    /** As {@link #png(Tensor, ModelFamily)} with the SD 1.x/2.x mix (for callers that do not know the family). */
    public static byte[] png(Tensor latents) {
        return png(latents, null);
    }

    /**
     * A listener that writes the first image's preview to {@code file} (a PNG, replaced atomically so a viewer
     * never reads half of it) after every {@code every}-th step and after the last one.
     */
    public static StepListener writer(Path file, int every, ModelFamily family) {
        return writer(file, every, latents -> rgb(latents, 0, family));
    }

    /** As {@link #writer(Path, int, ModelFamily)}, the previews decoded by the TAESD at full size. */
    public static StepListener taesdWriter(Path file, int every, Taesd taesd) {
        return writer(file, every, latents -> taesdRgb(latents, 0, taesd));
    }

    private static StepListener writer(Path file, int every, Function<Tensor, RgbImage> preview) {
        if (every < 1) throw new JDiffusionException("--preview-every: " + every + " must be at least 1");
        return (step, totalSteps, latents) -> {
            if (step % every == 0 || step == totalSteps) {
                RgbImage img = preview.apply(latents);
                Png.write(file, img.width(), img.height(), img.rgb(), Map.of());
            }
            return true;
        };
    }

    /** The standard deviation of n values from offset (one image of the batch). */
    private static double spread(float[] d, int offset, int n) {
        double sum = 0, sumSq = 0;
        for (int i = offset; i < offset + n; i++) {
            sum += d[i];
            sumSq += (double) d[i] * d[i];
        }
        double mean = sum / n;
        return Math.sqrt(Math.max(0, sumSq / n - mean * mean));
    }
}
