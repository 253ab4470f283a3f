package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.unet.AttentionInputs;
import io.jdiffusion.model.unet.UNet;
import io.jdiffusion.model.vae.Taesd;
import io.jdiffusion.model.vae.Vae;
import io.jdiffusion.prompt.Embedding;
import io.jdiffusion.prompt.Embeddings;
import io.jdiffusion.prompt.PromptEmbedding;
import io.jdiffusion.prompt.PromptEncoder;
import io.jdiffusion.model.vae.VaeTiling;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.NoiseSource;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * A checkpoint turned into runnable networks: tokenizer and text encoder(s), UNet and VAE, built once and
 * reused for every job (the server keeps one loaded). Holds no per-job state.
 */
public final class LoadedModel {
    private final StableDiffusionModel model;
    private final PromptEncoder promptEncoder; // SD 1.x / 2.x: the one text encoder (null for SDXL)
    private final SdxlConditioning sdxl; // SDXL: both text encoders (null for SD 1.x / 2.x)
    private final UNet unet;
    private final Vae vae;
    private final Taesd taesd; // decodes and encodes instead of the VAE when not null (--vae taesd)
    private String modelHash; // computed on first use: hashing reads the whole file

    public LoadedModel(StableDiffusionModel model) {
        this(model, AttentionInputs.NONE);
    }

    /** With the UNet's attention keys and values taken through {@code attentionInputs} (hypernetworks). */
    public LoadedModel(StableDiffusionModel model, AttentionInputs attentionInputs) {
        this(model, attentionInputs, null);
    }

    /**
     * As {@link #LoadedModel(StableDiffusionModel, AttentionInputs)}, with images decoded (and encoded) by a TAESD
     * instead of the model's VAE when {@code taesd} is not null. It must fit the model's latent space.
     */
    public LoadedModel(StableDiffusionModel model, AttentionInputs attentionInputs, Taesd taesd) {
        if (taesd != null && (!taesd.canDecode() || taesd.latentChannels() != model.vaeConfig().latentChannels())) {
            throw new JDiffusionException("--vae: " + taesd.name() + (taesd.canDecode()
                    ? ": this TAESD has " + taesd.latentChannels() + " latent channels, the model's VAE " + model.vaeConfig().latentChannels()
                    + ": it belongs to another kind of model" : ": a TAESD without its decoder"));
        }
        this.taesd = taesd;
        this.model = model;
        boolean twoEncoders = model.textEncoder2() != null;
        this.promptEncoder = twoEncoders ? null : PromptEncoder.of(model.textEncoder(), Embedding.SDXL_FIRST, model.source());
        this.sdxl = twoEncoders ? new SdxlConditioning(model) : null;
        this.unet = new UNet(model.unetConfig(), model.unet(), attentionInputs);
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
        return taesd != null ? taesd.downscaleFactor() : vae.downscaleFactor();
    }

    /** The TAESD that stands in for the VAE, or null when the VAE decodes. */
    public Taesd taesd() {
        return taesd;
    }

    /** SDXL's two-encoder conditioning, or null for SD 1.x / 2.x models. */
    public SdxlConditioning sdxl() {
        return sdxl;
    }

    /** The UNet's input channels: the latent channels, or 2·latent + 1 for inpainting models (+ mask + masked image). */
    public int unetInChannels() {
        return unet.config().inChannels();
    }

    /**
     * Images [B, 3, H, W] in [-1, 1] → latents as the samplers see them: a sample of the VAE's posterior
     * (its standard-normal draw taken from {@code rng}, as diffusers' latent_dist.sample(generator)), with the
     * latent scaling (and shift) applied in float32. With a TAESD, its encoder's latents, which need no scaling
     * and no draw from {@code rng} (diffusers takes AutoencoderTiny's latents as they are).
     */
    public Tensor encodeImage(Tensor images, NoiseSource rng) {
        if (taesd != null) {
            if (!taesd.canEncode()) {
                throw new JDiffusionException("--vae: " + taesd.name() + ": this TAESD has no encoder weights (the taesd_encoder file"
                        + " next to its decoder), which img2img, inpainting and the hires fix's lanczos upscaler need");
            }
            return taesd.encode(images);
        }
        Vae.Posterior posterior = vae.encode(images);
        Tensor z = posterior.sample(rng.randn(posterior.mean().shape));
        float sf = (float) model.vaeConfig().scalingFactor(), shift = (float) model.vaeConfig().shiftFactor();
        for (int i = 0; i < z.data.length; i++) z.data[i] = (z.data[i] - shift) * sf;
        return z;
    }

    /** A plain prompt's cross-attention context [1, 77·k, context], with A1111's clip skip (1 = the last layer). */
    public Tensor encodePrompt(String prompt, int clipSkip) {
        return encodePrompt(prompt, clipSkip, Embeddings.NONE).context();
    }

    /**
     * A prompt in A1111's prompt language (emphasis, BREAK, 75-token chunks, embeddings) → the cross-attention
     * context [1, 77·k, context] and, for SDXL, the pooled text embedding [1, P] (null otherwise). SD 1.x / 2.x
     * take A1111's clip skip (1 = the last layer); SDXL always reads both encoders' penultimate layers. A plain
     * prompt of up to 75 tokens gives exactly the plain [1, 77, context] encoding.
     */
    public PromptEmbedding encodePrompt(String prompt, int clipSkip, Embeddings embeddings) {
        return sdxl != null ? sdxl.encode(prompt, embeddings) : promptEncoder.encode(prompt, clipSkip, embeddings);
    }

    /**
     * The embeddings this model's text encoder(s) can take: those found in a folder that were made for
     * another model family are left out (their names stay words), as A1111 skips them.
     */
    public Embeddings usable(Embeddings embeddings) {
        return embeddings.usable(e -> sdxl != null ? sdxl.fits(e) : promptEncoder.fits(e));
    }

    /**
     * The prompt's and the negative prompt's conditioning, each as {@link #encodePrompt(String, int, Embeddings)}
     * gives it (except that SDXL models that say force_zeros_for_empty_prompt take an empty negative prompt as
     * all zeros), encoded as one batch: each weight of the text encoder is read once for both.
     */
    public List<PromptEmbedding> encodePromptAndNegative(String prompt, String negativePrompt, int clipSkip, Embeddings embeddings) {
        return sdxl != null ? sdxl.encodeWithNegative(prompt, negativePrompt, embeddings)
                : promptEncoder.encodeAll(List.of(prompt, negativePrompt), clipSkip, embeddings);
    }

    /**
     * Takes the text encoders' weights out of the resident memory once the prompts are encoded: they are not
     * read again during sampling, and for SD 1.5 they are 246 MB of the 3 GB peak. The next encoding maps
     * them back in from the file cache.
     */
    public void releaseTextEncoderPages() {
        if (model.textEncoder() != null) model.textEncoder().weights().releasePages(); // none on the SDXL refiner
        if (model.textEncoder2() != null) model.textEncoder2().weights().releasePages();
    }

    /**
     * The guided noise predictor for a batch: {@code uncond} and {@code cond} are [B, 77·k, ctx]. With
     * guidance (scale > 1, as diffusers decides) each call runs the UNet once on the batch doubled
     * [uncond; cond] and returns uncond + scale·(cond − uncond); without it, only the conditional half.
     */
    public NoisePredictor guided(Tensor uncond, Tensor cond, double guidanceScale) {
        return guided(uncond, cond, null, null, guidanceScale);
    }

    /**
     * As {@link #guided(Tensor, Tensor, double)}, with SDXL's added conditioning of each half (pooled text
     * [B, P] and time ids [B, 6]); both null for SD 1.x / 2.x, {@code addedUncond} null without guidance.
     */
    public NoisePredictor guided(Tensor uncond, Tensor cond, UNet.AddedConditioning addedUncond, UNet.AddedConditioning addedCond,
                                 double guidanceScale) {
        return guidedWithLabels(uncond, cond, addedUncond, addedCond, guidanceScale, null);
    }

    /**
     * As {@link #guided(Tensor, Tensor, double)} for a UNet with a class embedding, every row of both halves with
     * the class label {@code classLabel} (the x4 upscaler's noise level), the UNet also taking {@code extraChannels}
     * [B, c, h, w] after the (input-scaled) latents (the upscaler's noised low-resolution image).
     */
    public NoisePredictor guided(Tensor uncond, Tensor cond, double guidanceScale, Tensor extraChannels, int classLabel) {
        NoisePredictor labelled = guidedWithLabels(uncond, cond, null, null, guidanceScale, classLabel);
        return (x, t) -> labelled.predict(Ops.concatChannels(x, extraChannels), t);
    }

    /** The guided predictor; {@code classLabel} is every row's class label, or null for a UNet without a class embedding. */
    private NoisePredictor guidedWithLabels(Tensor uncond, Tensor cond, UNet.AddedConditioning addedUncond,
                                            UNet.AddedConditioning addedCond, double guidanceScale, Integer classLabel) {
        if (guidanceScale <= 1.0) {
            return (x, t) -> unet.forward(x, t, cond, addedCond, classLabels(classLabel, x.dim(0)));
        }
        Tensor context = Tensor.cat0(uncond, cond);
        UNet.AddedConditioning added = addedCond == null ? null : new UNet.AddedConditioning(
                Tensor.cat0(addedUncond.textEmbeds(), addedCond.textEmbeds()), Tensor.cat0(addedUncond.timeIds(), addedCond.timeIds()));
        float scale = (float) guidanceScale;
        return (x, t) -> {
            Tensor both = unet.forward(Tensor.cat0(x, x), t, context, added, classLabels(classLabel, 2 * x.dim(0)));
            int half = both.numel() / 2;
            float[] out = new float[half];
            float[] d = both.data;
            for (int i = 0; i < half; i++) out[i] = d[i] + scale * (d[half + i] - d[i]);
            int[] shape = both.shape.clone();
            shape[0] /= 2;
            return new Tensor(out, shape);
        };
    }

    /**
     * As {@link #guided(Tensor, Tensor, UNet.AddedConditioning, UNet.AddedConditioning, double)} for a UNet that
     * also takes {@code extraChannels} [B, c, h, w] after the (input-scaled) latents, as inpainting models take
     * the mask and the masked image's latents; null for none.
     */
    public NoisePredictor guided(Tensor uncond, Tensor cond, UNet.AddedConditioning addedUncond, UNet.AddedConditioning addedCond,
                                 double guidanceScale, Tensor extraChannels) {
        NoisePredictor plain = guided(uncond, cond, addedUncond, addedCond, guidanceScale);
        return extraChannels == null ? plain : (x, t) -> plain.predict(Ops.concatChannels(x, extraChannels), t);
    }

    private static int[] classLabels(Integer label, int rows) {
        if (label == null) return null;
        int[] labels = new int[rows];
        java.util.Arrays.fill(labels, label);
        return labels;
    }

    /**
     * Sampled latents → images in [-1, 1], [B, 3, H, W]: undoes the VAE's latent scaling (and shift) in
     * float32 as the reference does, then decodes. A TAESD decodes the sampler's latents as they are.
     */
    public Tensor decode(Tensor latents) {
        return decode(latents, null);
    }

    /** As {@link #decode(Tensor)}, tile by tile when {@code tiling} is not null (--vae-tiling; a TAESD needs no tiles). */
    public Tensor decode(Tensor latents, VaeTiling tiling) {
        // sampling is over: the UNet's 1.7 GB (SD 1.5) need not stay resident beside the decoder's working
        // set, so the peak is the larger of the two phases, not their sum (the next sampling maps the
        // pages back in from the file cache), nor the feature maps it kept from step to step
        model.unet().releasePages();
        unet.releaseBuffers();
        if (taesd != null) return taesd.decode(latents);
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
