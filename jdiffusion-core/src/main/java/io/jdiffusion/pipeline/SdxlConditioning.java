package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.UNetConfig;
import io.jdiffusion.model.clip.ClipTextEncoder;
import io.jdiffusion.prompt.Embedding;
import io.jdiffusion.prompt.Embeddings;
import io.jdiffusion.prompt.PromptEmbedding;
import io.jdiffusion.prompt.PromptEncoder;
import io.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * SDXL's text conditioning, as diffusers' StableDiffusionXLPipeline computes it, with A1111's prompt
 * language. A prompt goes through both text encoders, CLIP ViT-L (padded with end-of-text) and OpenCLIP
 * ViT-bigG (padded with "!"), each through its own {@link PromptEncoder} (emphasis, BREAK, 75-token chunks
 * and embeddings per encoder, as A1111 does); the penultimate layer's states of each, before any final
 * LayerNorm, are joined along the channels into the UNet's context (768 + 1280 = 2048 wide in the
 * published model). The second encoder's projected end-of-text state of the first chunk is the pooled
 * embedding, which the UNet's added embedding takes together with the size/crop time ids
 * ({@link SizeConditioning}).
 *
 * <p>The SDXL refiner has only the second encoder: its penultimate states alone are the context (1280 wide)
 * and its pooled embedding goes with time ids that end with an aesthetic score instead of the target size
 * ({@link #aestheticScore()}, {@link SizeConditioning#refinerTimeIds(double)}), as diffusers'
 * StableDiffusionXLImg2ImgPipeline with requires_aesthetics_score.
 *
 * <p>A1111's "clip skip" does not apply: SDXL always reads the penultimate layers (A1111 does the same
 * unless told otherwise). Holds no per-job state; safe for concurrent calls.
 */
public final class SdxlConditioning {
    private final PromptEncoder first, second; // first: null for the refiner
    private final boolean forceZerosForEmptyPrompt;

    /** @param model a model with two text encoders ({@link StableDiffusionModel#textEncoder2()} not null) */
    public SdxlConditioning(StableDiffusionModel model) {
        if (model.textEncoder2() == null) throw new IllegalArgumentException(model.source() + " has one text encoder, not SDXL's two");
        this.first = model.textEncoder() == null ? null : PromptEncoder.of(model.textEncoder(), Embedding.SDXL_FIRST, model.source());
        this.second = PromptEncoder.of(model.textEncoder2(), Embedding.SDXL_SECOND, model.source());
        this.forceZerosForEmptyPrompt = model.forceZerosForEmptyPrompt();
        checkFitsUNet(model);
    }

    /** The encoders' outputs must be what the UNet was built for; a mismatch is a broken model, said at load. */
    private void checkFitsUNet(StableDiffusionModel model) {
        ClipTextEncoder b = second.encoder();
        if (first != null && first.encoder().maxLength() != b.maxLength()) {
            throw new JDiffusionException(model.source() + ": the text encoders take " + first.encoder().maxLength() + " and "
                    + b.maxLength() + " tokens; SDXL joins their states token by token");
        }
        UNetConfig unet = model.unetConfig();
        int context = contextWidth();
        if (context != unet.crossAttentionDim()) {
            String widths = first == null ? "the text encoder gives " + context + " channels"
                    : "the text encoders give " + first.encoder().hiddenSize() + " + " + b.hiddenSize() + " = " + context + " channels";
            throw new JDiffusionException(model.source() + ": " + widths + ", the UNet's cross-attention takes " + unet.crossAttentionDim());
        }
        int pooled = b.config().projectionDim();
        int ids = aestheticScore() ? SizeConditioning.REFINER_TIME_IDS : SizeConditioning.TIME_IDS;
        if (!"text_time".equals(unet.addEmbedType()) || pooled + ids * unet.additionTimeEmbedDim() != unet.projectionClassEmbeddingsInputDim()) {
            throw new JDiffusionException(model.source() + ": the UNet's added embedding takes " + unet.projectionClassEmbeddingsInputDim()
                    + " inputs, not a " + pooled + "-wide pooled text embedding and " + ids + " time ids of "
                    + unet.additionTimeEmbedDim() + " features");
        }
    }

    /** The context's channels: both encoders' hidden widths, or the refiner's one. */
    private int contextWidth() {
        return (first == null ? 0 : first.encoder().hiddenSize()) + second.encoder().hiddenSize();
    }

    /**
     * Whether the UNet's time ids end with an aesthetic score (the refiner: {@link SizeConditioning#refinerTimeIds(double)})
     * rather than the target size ({@link SizeConditioning#timeIds()}).
     */
    public boolean aestheticScore() {
        return first == null;
    }

    /** A plain prompt (no embeddings) through both encoders. */
    public PromptEmbedding encode(String prompt) {
        return encode(prompt, Embeddings.NONE);
    }

    /**
     * A prompt through both encoders: context [1, 77·k, hidden1 + hidden2] (the chunks' penultimate states
     * joined channel by channel) and pooled [1, projection] (the second encoder's, first chunk).
     */
    public PromptEmbedding encode(String prompt, Embeddings embeddings) {
        return encodeAll(List.of(prompt), embeddings).getFirst();
    }

    /** Prompts through both encoders, each encoder running them as one batch. */
    private List<PromptEmbedding> encodeAll(List<String> prompts, Embeddings embeddings) {
        List<PromptEmbedding> b = second.encodeAll(prompts, embeddings, ClipTextEncoder.Output::penultimateHiddenState);
        if (first == null) return b;
        List<PromptEmbedding> a = first.encodeAll(prompts, embeddings, ClipTextEncoder.Output::penultimateHiddenState);
        List<PromptEmbedding> joined = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            joined.add(new PromptEmbedding(concatChannels(a.get(i).context(), b.get(i).context()), b.get(i).pooled()));
        }
        return joined;
    }

    /** Whether the embedding has vectors for both text encoders, of their widths. */
    boolean fits(Embedding e) {
        return (first == null || first.fits(e)) && second.fits(e);
    }

    /** {@link #encodeNegative(String, Embeddings)} without embeddings. */
    public PromptEmbedding encodeNegative(String negativePrompt) {
        return encodeNegative(negativePrompt, Embeddings.NONE);
    }

    /**
     * The unconditional side of the guidance: an empty negative prompt is all zeros (one chunk) when the
     * model's pipeline config says force_zeros_for_empty_prompt (SDXL base does), otherwise the encoded text.
     */
    public PromptEmbedding encodeNegative(String negativePrompt, Embeddings embeddings) {
        if (negativePrompt.isEmpty() && forceZerosForEmptyPrompt) {
            ClipTextEncoder b = second.encoder();
            return new PromptEmbedding(Tensor.zeros(1, b.maxLength(), contextWidth()),
                    Tensor.zeros(1, b.config().projectionDim()));
        }
        return encode(negativePrompt, embeddings);
    }

    /**
     * The prompt's and the negative prompt's conditioning, as {@link #encode(String, Embeddings)} and
     * {@link #encodeNegative(String, Embeddings)} give them, each encoder running the two as one batch.
     */
    public List<PromptEmbedding> encodeWithNegative(String prompt, String negativePrompt, Embeddings embeddings) {
        if (negativePrompt.isEmpty() && forceZerosForEmptyPrompt) {
            return List.of(encode(prompt, embeddings), encodeNegative(negativePrompt, embeddings));
        }
        return encodeAll(List.of(prompt, negativePrompt), embeddings);
    }

    /** [B, T, C1] and [B, T, C2] → [B, T, C1 + C2]. */
    static Tensor concatChannels(Tensor a, Tensor b) {
        int rows = a.dim(0) * a.dim(1), ca = a.dim(2), cb = b.dim(2);
        if (b.dim(0) != a.dim(0) || b.dim(1) != a.dim(1)) throw new IllegalArgumentException(a + " and " + b + " differ in tokens");
        float[] out = new float[rows * (ca + cb)];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(a.data, r * ca, out, r * (ca + cb), ca);
            System.arraycopy(b.data, r * cb, out, r * (ca + cb) + ca, cb);
        }
        return new Tensor(out, a.dim(0), a.dim(1), ca + cb);
    }
}
