package io.jdiffusion.prompt;

import io.jdiffusion.model.TextEncoderSpec;
import io.jdiffusion.model.clip.ClipTextEncoder;
import io.jdiffusion.model.clip.ClipTokenizer;
import io.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * A prompt in A1111's language through one text encoder (tokenizer, encoder, pad token): emphasis,
 * BREAK, prompts of any length in 75-token chunks, textual-inversion embeddings. Each chunk runs through
 * the encoder on its own; emphasis then scales each token's output vector by its weight and rescales the
 * chunk so its mean is what it was (A1111's "Original" emphasis). The chunks' outputs are concatenated:
 * [1, 77·k, width]. A prompt with no emphasis, no embedding and at most 75 tokens gives exactly the
 * plain encoding.
 *
 * <p>A model with two text encoders (SDXL) uses one PromptEncoder per encoder and concatenates their
 * contexts along the width; {@link #encode(String, Embeddings, Function)} returns the pooled output too.
 * Safe for concurrent use.
 */
public final class PromptEncoder {
    private final ClipTextEncoder encoder;
    private final PromptChunks chunker;
    private final String embeddingKey;
    private final String modelSource;

    /**
     * @param padTokenId   the id rows are padded with (the end token for SD 1.x, "!" for SD 2.x)
     * @param embeddingKey which tensor of an SDXL embedding file this encoder takes ("clip_l" or "clip_g")
     * @param modelSource  the model, for messages
     */
    public PromptEncoder(ClipTokenizer tokenizer, ClipTextEncoder encoder, int padTokenId, String embeddingKey,
                         String modelSource) {
        this.encoder = encoder;
        this.chunker = new PromptChunks(tokenizer, encoder.maxLength(), padTokenId);
        this.embeddingKey = embeddingKey;
        this.modelSource = modelSource;
    }

    /**
     * The prompt encoder of one of a model's text encoders, with the bundled CLIP tokenizer padding rows with
     * the encoder's pad token.
     */
    public static PromptEncoder of(TextEncoderSpec spec, String embeddingKey, String modelSource) {
        ClipTokenizer tokenizer = tokenizerPaddingWith(spec.padToken());
        return new PromptEncoder(tokenizer, new ClipTextEncoder(spec), tokenizer.tokenId(spec.padToken()), embeddingKey, modelSource);
    }

    /**
     * The bundled CLIP tokenizer for an encoder whose rows are padded with {@code pad}. Tokenizers that pad with
     * something other than EOS (SD 2.x's and SDXL's second "!") register the pad token as a special token,
     * so the same text inside a prompt maps to it too (as the reference tokenizer does).
     */
    static ClipTokenizer tokenizerPaddingWith(String pad) {
        ClipTokenizer base = ClipTokenizer.bundled();
        return pad.equals(ClipTokenizer.END_OF_TEXT) ? base : base.withAddedToken(pad);
    }

    /** The text encoder this runs. */
    public ClipTextEncoder encoder() {
        return encoder;
    }

    /** SD 1.x/2.x conditioning: A1111's clip skip (1 = the last layer) through the final LayerNorm; no pooled output. */
    public PromptEmbedding encode(String prompt, int clipSkip, Embeddings embeddings) {
        return encodeAll(List.of(prompt), clipSkip, embeddings).getFirst();
    }

    /**
     * As {@link #encode(String, int, Embeddings)} for several prompts (a prompt and its negative prompt),
     * their chunks run through the encoder as one batch: each weight is read once for all of them, and
     * every sequence's result is the same as alone (up to float rounding).
     */
    public List<PromptEmbedding> encodeAll(List<String> prompts, int clipSkip, Embeddings embeddings) {
        return encodeAll(prompts, embeddings, (tokens, ids) -> new PromptEmbedding(encoder.encode(tokens, clipSkip), null));
    }

    /**
     * Conditioning taken from the encoder's full output by {@code hiddenState} (SDXL: the penultimate state),
     * with the first chunk's pooled output.
     */
    public PromptEmbedding encode(String prompt, Embeddings embeddings, Function<ClipTextEncoder.Output, Tensor> hiddenState) {
        return encodeAll(List.of(prompt), embeddings, hiddenState).getFirst();
    }

    /** As {@link #encode(String, Embeddings, Function)} for several prompts, in one batch. */
    public List<PromptEmbedding> encodeAll(List<String> prompts, Embeddings embeddings,
                                           Function<ClipTextEncoder.Output, Tensor> hiddenState) {
        return encodeAll(prompts, embeddings, (tokens, ids) -> {
            ClipTextEncoder.Output out = encoder.forward(tokens, ids);
            return new PromptEmbedding(hiddenState.apply(out), out.pooled());
        });
    }

    /** Whether the embedding has vectors for this encoder, of its width. */
    public boolean fits(Embedding e) {
        return e.fits(embeddingKey, encoder.hiddenSize());
    }

    /** Checks every embedding against this encoder (so a wrong one fails even when no prompt uses it). */
    public void check(Embeddings embeddings) {
        for (Embedding e : embeddings.all()) e.vectorsFor(embeddingKey, encoder.hiddenSize(), modelSource);
    }

    private interface ChunkEncoder {
        PromptEmbedding run(Tensor tokenEmbeddings, int[][] ids);
    }

    /** The prompts' chunks through the encoder as one batch, then each prompt's context put together from its chunks. */
    private List<PromptEmbedding> encodeAll(List<String> prompts, Embeddings embeddings, ChunkEncoder run) {
        check(embeddings);
        List<List<PromptChunks.Chunk>> split = new ArrayList<>();
        for (String prompt : prompts) split.add(chunker.split(prompt, embeddings, this::vectors));
        List<PromptChunks.Chunk> chunks = split.stream().flatMap(List::stream).toList();
        int rowLength = encoder.maxLength(), hidden = encoder.hiddenSize();
        int[][] ids = new int[chunks.size()][];
        for (int r = 0; r < ids.length; r++) ids[r] = chunks.get(r).ids();
        Tensor tokens = encoder.tokenEmbeddings(ids);
        for (int r = 0; r < ids.length; r++) {
            for (int t = 0; t < rowLength; t++) {
                float[] v = chunks.get(r).vectors()[t];
                if (v != null) System.arraycopy(v, 0, tokens.data, (r * rowLength + t) * hidden, hidden);
            }
        }
        PromptEmbedding out = run.run(tokens, ids);
        int width = out.context().dim(2), rowFloats = rowLength * width;
        List<PromptEmbedding> results = new ArrayList<>();
        int r = 0;
        for (List<PromptChunks.Chunk> own : split) {
            float[] context = new float[own.size() * rowFloats];
            Tensor pooled = out.pooled() == null ? null : row(out.pooled(), r);
            for (int k = 0; k < own.size(); k++, r++) {
                Tensor z = new Tensor(Arrays.copyOfRange(out.context().data, r * rowFloats, (r + 1) * rowFloats), 1, rowLength, width);
                if (own.get(k).emphasized()) emphasize(z, own.get(k).weights());
                System.arraycopy(z.data, 0, context, k * rowFloats, rowFloats);
            }
            results.add(new PromptEmbedding(new Tensor(context, 1, own.size() * rowLength, width), pooled));
        }
        return results;
    }

    /** Row r of a [B, P] tensor as [1, P]. */
    private static Tensor row(Tensor t, int r) {
        int p = t.dim(1);
        return new Tensor(Arrays.copyOfRange(t.data, r * p, (r + 1) * p), 1, p);
    }

    private float[][] vectors(Embedding e) {
        Tensor v = e.vectorsFor(embeddingKey, encoder.hiddenSize(), modelSource);
        int n = v.dim(0), w = v.dim(1);
        float[][] rows = new float[n][];
        for (int i = 0; i < n; i++) rows[i] = Arrays.copyOfRange(v.data, i * w, (i + 1) * w);
        return rows;
    }

    /**
     * A1111's "Original" emphasis on one chunk's output [1, T, width], in place: every token's vector times
     * its weight (float32), then everything times old mean / new mean.
     */
    static void emphasize(Tensor z, float[] weights) {
        int tokens = z.dim(1), width = z.dim(2);
        float before = mean(z.data);
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < width; c++) z.data[t * width + c] *= weights[t];
        }
        float ratio = before / mean(z.data);
        for (int i = 0; i < z.data.length; i++) z.data[i] *= ratio;
    }

    private static float mean(float[] values) {
        double sum = 0;
        for (float v : values) sum += v;
        return (float) (sum / values.length);
    }
}
