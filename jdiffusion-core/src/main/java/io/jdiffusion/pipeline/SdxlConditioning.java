package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.TextEncoderSpec;
import io.jdiffusion.model.UNetConfig;
import io.jdiffusion.model.clip.ClipTextEncoder;
import io.jdiffusion.model.clip.ClipTokenizer;
import io.jdiffusion.tensor.Tensor;

/**
 * SDXL's text conditioning, as diffusers' StableDiffusionXLPipeline computes it. A prompt goes through both
 * text encoders, CLIP ViT-L (padded with end-of-text) and OpenCLIP ViT-bigG (padded with "!"); the
 * penultimate layer's states of each, before any final LayerNorm, are joined along the channels into the
 * UNet's context (768 + 1280 = 2048 wide in the published model). The second encoder's projected
 * end-of-text state is the pooled embedding, which the UNet's added embedding takes together with the
 * size/crop time ids ({@link SizeConditioning}).
 *
 * <p>A1111's "clip skip" does not apply: SDXL always reads the penultimate layers (A1111 does the same
 * unless told otherwise). Holds no per-job state; safe for concurrent calls.
 */
public final class SdxlConditioning {

    /**
     * One prompt's conditioning.
     *
     * @param context [1, T, hidden1 + hidden2]: the cross-attention context
     * @param pooled  [1, projection]: the second encoder's pooled, projected output
     */
    public record Encoded(Tensor context, Tensor pooled) {
    }

    /** A tokenizer with its pad token and the encoder it feeds. */
    private record Encoder(ClipTokenizer tokenizer, int padId, ClipTextEncoder network) {
        static Encoder of(TextEncoderSpec spec) {
            ClipTokenizer tokenizer = LoadedModel.tokenizerPaddingWith(spec.padToken());
            return new Encoder(tokenizer, tokenizer.tokenId(spec.padToken()), new ClipTextEncoder(spec));
        }

        ClipTextEncoder.Output run(String text) {
            return network.forward(new int[][]{tokenizer.encodePadded(text, padId, network.maxLength())});
        }
    }

    private final Encoder first, second;
    private final boolean forceZerosForEmptyPrompt;

    /** @param model a model with two text encoders ({@link StableDiffusionModel#textEncoder2()} not null) */
    public SdxlConditioning(StableDiffusionModel model) {
        if (model.textEncoder2() == null) throw new IllegalArgumentException(model.source() + " has one text encoder, not SDXL's two");
        this.first = Encoder.of(model.textEncoder());
        this.second = Encoder.of(model.textEncoder2());
        this.forceZerosForEmptyPrompt = model.forceZerosForEmptyPrompt();
        checkFitsUNet(model);
    }

    /** The encoders' outputs must be what the UNet was built for; a mismatch is a broken model, said at load. */
    private void checkFitsUNet(StableDiffusionModel model) {
        if (first.network.maxLength() != second.network.maxLength()) {
            throw new JDiffusionException(model.source() + ": the text encoders take " + first.network.maxLength() + " and "
                    + second.network.maxLength() + " tokens; SDXL joins their states token by token");
        }
        UNetConfig unet = model.unetConfig();
        int context = first.network.hiddenSize() + second.network.hiddenSize();
        if (context != unet.crossAttentionDim()) {
            throw new JDiffusionException(model.source() + ": the text encoders give " + first.network.hiddenSize() + " + "
                    + second.network.hiddenSize() + " = " + context + " channels, the UNet's cross-attention takes " + unet.crossAttentionDim());
        }
        int pooled = second.network.config().projectionDim();
        int ids = SizeConditioning.TIME_IDS;
        if (!"text_time".equals(unet.addEmbedType()) || pooled + ids * unet.additionTimeEmbedDim() != unet.projectionClassEmbeddingsInputDim()) {
            throw new JDiffusionException(model.source() + ": the UNet's added embedding takes " + unet.projectionClassEmbeddingsInputDim()
                    + " inputs, not a " + pooled + "-wide pooled text embedding and " + ids + " time ids of "
                    + unet.additionTimeEmbedDim() + " features");
        }
    }

    /** A prompt through both encoders. */
    public Encoded encode(String prompt) {
        ClipTextEncoder.Output a = first.run(prompt);
        ClipTextEncoder.Output b = second.run(prompt);
        return new Encoded(concatChannels(a.penultimateHiddenState(), b.penultimateHiddenState()), b.pooled());
    }

    /**
     * The unconditional side of the guidance: an empty negative prompt is all zeros when the model's
     * pipeline config says force_zeros_for_empty_prompt (SDXL base does), otherwise the encoded text.
     */
    public Encoded encodeNegative(String negativePrompt) {
        if (negativePrompt.isEmpty() && forceZerosForEmptyPrompt) {
            int tokens = first.network.maxLength();
            return new Encoded(Tensor.zeros(1, tokens, first.network.hiddenSize() + second.network.hiddenSize()),
                    Tensor.zeros(1, second.network.config().projectionDim()));
        }
        return encode(negativePrompt);
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
