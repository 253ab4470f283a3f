package io.jdiffusion.server;

import io.jdiffusion.io.Png;
import io.jdiffusion.tensor.Tensor;

import java.util.Map;

/**
 * A cheap look at latents while sampling runs: each pixel's RGB is a fixed linear mix of its latent
 * channels, at latent resolution (1/8 of the image), with no VAE. The mix for 4-channel latents is
 * the one people fitted for the SD 1.x/2.x VAE latent space (what A1111 calls "Approx cheap"); other
 * latent spaces show their first three channels. Early in sampling the latents are mostly noise of
 * large spread: they are scaled to unit spread first, so the preview shows structure, not saturation.
 * Good enough to see composition emerge.
 */
final class LatentPreview {
    /** rgb = Σ_c latent[c] · FACTORS[c], roughly in [-1, 1]. */
    private static final float[][] SD_FACTORS = {
            {0.298f, 0.207f, 0.208f},
            {0.187f, 0.286f, 0.173f},
            {-0.158f, 0.189f, 0.264f},
            {-0.184f, -0.271f, -0.473f},
    };

    private LatentPreview() {
    }

    /** The first image of a [B, C, h, w] latent batch as PNG bytes. */
    static byte[] png(Tensor latents) {
        int channels = latents.dim(1), h = latents.dim(2), w = latents.dim(3), plane = h * w;
        byte[] rgb = new byte[plane * 3];
        float[] d = latents.data;
        float scale = 1f / (float) Math.max(1.0, spread(d, channels * plane));
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                float v;
                if (channels == SD_FACTORS.length) {
                    v = 0;
                    for (int k = 0; k < channels; k++) v += d[k * plane + i] * SD_FACTORS[k][c];
                } else {
                    v = d[Math.min(c, channels - 1) * plane + i] * 0.25f; // latents have roughly unit scale
                }
                float level = (v * scale + 1f) * 127.5f;
                rgb[i * 3 + c] = (byte) Math.round(Math.min(255f, Math.max(0f, level)));
            }
        }
        return Png.encode(w, h, rgb, Map.of());
    }

    /** The standard deviation of the first {@code n} values (the first image of the batch). */
    private static double spread(float[] d, int n) {
        double sum = 0, sumSq = 0;
        for (int i = 0; i < n; i++) {
            sum += d[i];
            sumSq += (double) d[i] * d[i];
        }
        double mean = sum / n;
        return Math.sqrt(Math.max(0, sumSq / n - mean * mean));
    }
}
