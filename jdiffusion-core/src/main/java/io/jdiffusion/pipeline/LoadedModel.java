package io.jdiffusion.pipeline;

import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.clip.ClipTextEncoder;
import io.jdiffusion.model.clip.ClipTokenizer;
import io.jdiffusion.model.unet.UNet;
import io.jdiffusion.model.vae.Vae;
import io.jdiffusion.model.vae.VaeTiling;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.tensor.Tensor;

import java.nio.file.Path;

/**
 * A checkpoint turned into runnable networks: tokenizer, text encoder, UNet and VAE, built once and
 * reused for every job (the server keeps one loaded). Holds no per-job state.
 */
public final class LoadedModel {
    private final StableDiffusionModel model;
    private final ClipTokenizer tokenizer;
    private final int padTokenId;
    private final ClipTextEncoder textEncoder;
    private final UNet unet;
    private final Vae vae;
    private String modelHash; // computed on first use: hashing reads the whole file

    public LoadedModel(StableDiffusionModel model) {
        this.model = model;
        String pad = model.textEncoder().padToken();
        ClipTokenizer base = ClipTokenizer.bundled();
        // Tokenizers that pad with something other than EOS (SD 2.x's "!") register the pad token as a
        // special token, so the same text inside a prompt maps to it too (as the reference tokenizer does).
        this.tokenizer = pad.equals(ClipTokenizer.END_OF_TEXT) ? base : base.withAddedToken(pad);
        this.padTokenId = tokenizer.tokenId(pad);
        this.textEncoder = new ClipTextEncoder(model.textEncoder());
        this.unet = new UNet(model.unetConfig(), model.unet());
        this.vae = new Vae(model.vaeConfig(), model.vae());
    }

    public StableDiffusionModel model() {
        return model;
    }

    /** A1111's model hash of the checkpoint file (null for a folder), computed once. */
    public synchronized String modelHash() {
        if (modelHash == null) modelHash = java.util.Objects.requireNonNullElse(Infotext.modelHash(Path.of(model.source())), "");
        return modelHash.isEmpty() ? null : modelHash;
    }

    public int latentChannels() {
        return model.vaeConfig().latentChannels();
    }

    public int vaeScale() {
        return vae.downscaleFactor();
    }

    /** Prompt → [1, 77, context] conditioning, with A1111's clip skip (1 = the last layer). */
    public Tensor encodePrompt(String prompt, int clipSkip) {
        int[] ids = tokenizer.encodePadded(prompt, padTokenId, textEncoder.maxLength());
        return textEncoder.encode(new int[][]{ids}, clipSkip);
    }

    /**
     * The guided noise predictor for a batch: {@code uncond} and {@code cond} are [B, 77, ctx]. With
     * guidance (scale > 1, as diffusers decides) each call runs the UNet once on the batch doubled
     * [uncond; cond] and returns uncond + scale·(cond − uncond); without it, only the conditional half.
     */
    public NoisePredictor guided(Tensor uncond, Tensor cond, double guidanceScale) {
        if (guidanceScale <= 1.0) {
            return (x, t) -> unet.forward(x, t, cond);
        }
        Tensor context = Tensor.cat0(uncond, cond);
        float scale = (float) guidanceScale;
        return (x, t) -> {
            Tensor both = unet.forward(Tensor.cat0(x, x), t, context);
            int half = both.numel() / 2;
            float[] out = new float[half];
            float[] d = both.data;
            for (int i = 0; i < half; i++) out[i] = d[i] + scale * (d[half + i] - d[i]);
            return new Tensor(out, x.shape);
        };
    }

    /**
     * Sampled latents → images in [-1, 1], [B, 3, H, W]: undoes the VAE's latent scaling (and shift) in
     * float32 as the reference does, then decodes.
     */
    public Tensor decode(Tensor latents) {
        return decode(latents, null);
    }

    /** As {@link #decode(Tensor)}, tile by tile when {@code tiling} is not null (--vae-tiling). */
    public Tensor decode(Tensor latents, VaeTiling tiling) {
        Tensor z = latents.copy();
        float sf = (float) model.vaeConfig().scalingFactor(), shift = (float) model.vaeConfig().shiftFactor();
        for (int i = 0; i < z.data.length; i++) z.data[i] = z.data[i] / sf + shift;
        return vae.decode(z, tiling);
    }

    /**
     * Images in [-1, 1] → 8-bit RGB, HWC per image, as diffusers' postprocess does it:
     * (x/2 + 0.5) clamped to [0, 1], times 255, rounded half to even.
     */
    public static byte[][] toRgb8(Tensor images) {
        int batch = images.dim(0), h = images.dim(2), w = images.dim(3), plane = h * w;
        byte[][] out = new byte[batch][h * w * 3];
        for (int n = 0; n < batch; n++) {
            for (int c = 0; c < 3; c++) {
                int base = (n * 3 + c) * plane;
                for (int i = 0; i < plane; i++) {
                    float v = images.data[base + i] / 2f + 0.5f;
                    v = Math.min(1f, Math.max(0f, v));
                    out[n][i * 3 + c] = (byte) (int) Math.rint(v * 255f);
                }
            }
        }
        return out;
    }
}
