package io.jdiffusion.model.clip;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ClipTextConfig;
import io.jdiffusion.model.TextEncoderSpec;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

/**
 * The CLIP text transformer (transformers' CLIPTextModel / CLIPTextModelWithProjection): token plus
 * position embeddings, pre-LayerNorm blocks of causal self-attention and an MLP, a final LayerNorm,
 * and optionally a projection of the pooled (end-of-text) state. Weights keep their stored dtype and
 * transformers' names:
 * <pre>
 * text_model.embeddings.token_embedding.weight        [vocab, hidden]
 * text_model.embeddings.position_embedding.weight     [positions, hidden]
 * text_model.encoder.layers.&lt;i&gt;.layer_norm1.{weight,bias}
 * text_model.encoder.layers.&lt;i&gt;.self_attn.{q,k,v,out}_proj.{weight,bias}
 * text_model.encoder.layers.&lt;i&gt;.layer_norm2.{weight,bias}
 * text_model.encoder.layers.&lt;i&gt;.mlp.fc1.{weight,bias}      [intermediate, hidden]
 * text_model.encoder.layers.&lt;i&gt;.mlp.fc2.{weight,bias}      [hidden, intermediate]
 * text_model.final_layer_norm.{weight,bias}
 * text_projection.weight                              [projection, hidden] (optional)
 * </pre>
 * Only the config's {@code numLayers} layers are used. Safe for concurrent calls.
 */
public final class ClipTextEncoder {

    /**
     * @param lastHiddenState        [B, T, hidden]: the last layer's output after the final LayerNorm
     * @param penultimateHiddenState [B, T, hidden]: the second-to-last layer's output (transformers'
     *                               hidden_states[-2]), before any LayerNorm
     * @param pooled                 [B, hidden], or [B, projection] when the model has text_projection:
     *                               the last hidden state at each sequence's end-of-text token
     */
    public record Output(Tensor lastHiddenState, Tensor penultimateHiddenState, Tensor pooled) {
    }

    private record Layer(
            Weight norm1Weight, Weight norm1Bias,
            Weight qWeight, Weight qBias, Weight kWeight, Weight kBias, Weight vWeight, Weight vBias,
            Weight outWeight, Weight outBias,
            Weight norm2Weight, Weight norm2Bias,
            Weight fc1Weight, Weight fc1Bias, Weight fc2Weight, Weight fc2Bias) {

        static Layer of(Weights w, int index, int hidden, int intermediate) {
            String p = "text_model.encoder.layers." + index + ".";
            return new Layer(
                    w.get(p + "layer_norm1.weight", hidden), w.get(p + "layer_norm1.bias", hidden),
                    w.get(p + "self_attn.q_proj.weight", hidden, hidden), w.get(p + "self_attn.q_proj.bias", hidden),
                    w.get(p + "self_attn.k_proj.weight", hidden, hidden), w.get(p + "self_attn.k_proj.bias", hidden),
                    w.get(p + "self_attn.v_proj.weight", hidden, hidden), w.get(p + "self_attn.v_proj.bias", hidden),
                    w.get(p + "self_attn.out_proj.weight", hidden, hidden), w.get(p + "self_attn.out_proj.bias", hidden),
                    w.get(p + "layer_norm2.weight", hidden), w.get(p + "layer_norm2.bias", hidden),
                    w.get(p + "mlp.fc1.weight", intermediate, hidden), w.get(p + "mlp.fc1.bias", intermediate),
                    w.get(p + "mlp.fc2.weight", hidden, intermediate), w.get(p + "mlp.fc2.bias", hidden));
        }
    }

    private final ClipTextConfig config;
    private final String source;
    private final int hidden;
    private final float eps;
    private final boolean quickGelu;
    private final Weight tokenEmbedding;
    private final Weight positionEmbedding;
    private final Layer[] layers;
    private final Weight finalNormWeight, finalNormBias;
    private final Weight projection;

    public ClipTextEncoder(TextEncoderSpec spec) {
        this.config = spec.config();
        Weights w = spec.weights();
        this.source = w.source();
        this.hidden = config.hiddenSize();
        this.eps = (float) config.layerNormEps();
        this.quickGelu = switch (config.hiddenAct()) {
            case "quick_gelu" -> true;
            case "gelu" -> false;
            default -> throw new JDiffusionException(source + ": text encoder activation '" + config.hiddenAct()
                    + "' is not supported (quick_gelu or gelu)");
        };
        if (config.numHeads() <= 0 || hidden % config.numHeads() != 0) {
            throw new JDiffusionException(source + ": text encoder width " + hidden + " does not split into "
                    + config.numHeads() + " attention heads");
        }
        if (config.numLayers() < 1) throw new JDiffusionException(source + ": text encoder has " + config.numLayers() + " layers");

        this.tokenEmbedding = w.get("text_model.embeddings.token_embedding.weight");
        if (tokenEmbedding.rank() != 2 || tokenEmbedding.dim(1) != hidden) {
            throw new JDiffusionException(source + ": token embedding has shape " + tokenEmbedding.shapeString()
                    + ", expected [vocab, " + hidden + "]");
        }
        this.positionEmbedding = w.get("text_model.embeddings.position_embedding.weight");
        if (positionEmbedding.rank() != 2 || positionEmbedding.dim(1) != hidden) {
            throw new JDiffusionException(source + ": position embedding has shape " + positionEmbedding.shapeString()
                    + ", expected [positions, " + hidden + "]");
        }
        this.layers = new Layer[config.numLayers()];
        for (int i = 0; i < layers.length; i++) layers[i] = Layer.of(w, i, hidden, config.intermediateSize());
        this.finalNormWeight = w.get("text_model.final_layer_norm.weight", hidden);
        this.finalNormBias = w.get("text_model.final_layer_norm.bias", hidden);
        Weight proj = w.getOptional("text_projection.weight");
        if (proj != null && (proj.rank() != 2 || proj.dim(1) != hidden)) {
            throw new JDiffusionException(source + ": text_projection.weight has shape " + proj.shapeString()
                    + ", expected [projection, " + hidden + "]");
        }
        this.projection = proj;
    }

    public ClipTextConfig config() {
        return config;
    }

    /** Hidden width, the size of each token's output vector. */
    public int hiddenSize() {
        return hidden;
    }

    /** Longest token sequence the position embedding covers. */
    public int maxLength() {
        return positionEmbedding.dim(0);
    }

    /** Runs every layer: the last hidden state, the penultimate one and the pooled output. */
    public Output forward(int[][] ids) {
        Tensor x = runLayers(embed(ids), 0, layers.length - 1);
        Tensor penultimate = x;
        Tensor last = finalNorm(runLayers(x, layers.length - 1, layers.length));
        return new Output(last, penultimate, pool(last, ids));
    }

    /**
     * The conditioning with A1111's "clip skip": 1 (or less) is the last hidden state; N ≥ 2 is the output
     * of layer numLayers − N + 1 (transformers' hidden_states[−N]) through the final LayerNorm. Layers
     * after that one are not run.
     */
    public Tensor encode(int[][] ids, int clipSkip) {
        int skip = checkClipSkip(clipSkip);
        return finalNorm(runLayers(embed(ids), 0, layers.length - skip + 1));
    }

    /**
     * As {@link #forward(int[][])} from token embeddings [B, T, hidden] (rows of the token table, some
     * possibly replaced, as textual-inversion embeddings do); {@code ids} only locate each sequence's end
     * token for the pooled output.
     */
    public Output forward(Tensor tokenEmbeddings, int[][] ids) {
        Tensor x = runLayers(withPositions(tokenEmbeddings), 0, layers.length - 1);
        Tensor penultimate = x;
        Tensor last = finalNorm(runLayers(x, layers.length - 1, layers.length));
        return new Output(last, penultimate, pool(last, ids));
    }

    /** As {@link #encode(int[][], int)} from token embeddings [B, T, hidden]. */
    public Tensor encode(Tensor tokenEmbeddings, int clipSkip) {
        int skip = checkClipSkip(clipSkip);
        return finalNorm(runLayers(withPositions(tokenEmbeddings), 0, layers.length - skip + 1));
    }

    /** Token embedding rows (read straight from the stored table) plus position embeddings: [B, T, hidden]. */
    private Tensor embed(int[][] ids) {
        return withPositions(tokenEmbeddings(ids));
    }

    /** The token table's rows for the ids, without position embeddings: [B, T, hidden]. */
    public Tensor tokenEmbeddings(int[][] ids) {
        int batch = ids.length;
        if (batch == 0) throw new JDiffusionException("text encoder: no token sequences given");
        int tokens = ids[0].length;
        checkLength(tokens);
        int vocab = tokenEmbedding.dim(0);
        float[] out = new float[batch * tokens * hidden];
        for (int b = 0; b < batch; b++) {
            if (ids[b].length != tokens) {
                throw new JDiffusionException("text encoder: sequence " + b + " has " + ids[b].length
                        + " tokens, sequence 0 has " + tokens);
            }
            for (int t = 0; t < tokens; t++) {
                int id = ids[b][t];
                if (id < 0 || id >= vocab) {
                    throw new JDiffusionException("text encoder: token id " + id + " is outside the embedding table (0.."
                            + (vocab - 1) + ")");
                }
                tokenEmbedding.read((long) id * hidden, out, (b * tokens + t) * hidden, hidden);
            }
        }
        return new Tensor(out, batch, tokens, hidden);
    }

    /** Token embeddings plus position embeddings, a new tensor. */
    private Tensor withPositions(Tensor tokenEmbeddings) {
        if (tokenEmbeddings.rank() != 3 || tokenEmbeddings.dim(2) != hidden) {
            throw new IllegalArgumentException("token embeddings " + tokenEmbeddings + ", expected [B, T, " + hidden + "]");
        }
        int batch = tokenEmbeddings.dim(0), tokens = tokenEmbeddings.dim(1);
        checkLength(tokens);
        float[] positions = new float[tokens * hidden];
        positionEmbedding.read(0, positions, 0, positions.length);
        float[] out = tokenEmbeddings.data.clone();
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < positions.length; i++) out[b * positions.length + i] += positions[i];
        }
        return new Tensor(out, batch, tokens, hidden);
    }

    private void checkLength(int tokens) {
        if (tokens == 0 || tokens > maxLength()) {
            throw new JDiffusionException("text encoder: " + tokens + " tokens per sequence, expected 1.." + maxLength());
        }
    }

    private int checkClipSkip(int clipSkip) {
        int skip = Math.max(1, clipSkip);
        if (skip > layers.length) {
            throw new JDiffusionException("clip skip " + clipSkip + ": the text encoder has only " + layers.length
                    + " layers (use 1.." + layers.length + ")");
        }
        return skip;
    }

    /** Layers [from, to) applied to x; x itself is left unchanged. */
    private Tensor runLayers(Tensor x, int from, int to) {
        for (int i = from; i < to; i++) x = layer(layers[i], x);
        return x;
    }

    private Tensor layer(Layer l, Tensor x) {
        Tensor h = Ops.layerNorm(x, l.norm1Weight(), l.norm1Bias(), eps);
        Tensor q = Ops.linear(h, l.qWeight(), l.qBias());
        Tensor k = Ops.linear(h, l.kWeight(), l.kBias());
        Tensor v = Ops.linear(h, l.vWeight(), l.vBias());
        Tensor attended = Ops.attention(q, k, v, config.numHeads(), true);
        Tensor afterAttention = Ops.linear(attended, l.outWeight(), l.outBias());
        Ops.addInPlace(afterAttention, x); // residual

        h = Ops.layerNorm(afterAttention, l.norm2Weight(), l.norm2Bias(), eps);
        Tensor inner = Ops.linear(h, l.fc1Weight(), l.fc1Bias());
        inner = quickGelu ? Ops.quickGelu(inner) : Ops.gelu(inner);
        Tensor out = Ops.linear(inner, l.fc2Weight(), l.fc2Bias());
        Ops.addInPlace(out, afterAttention); // residual
        return out;
    }

    private Tensor finalNorm(Tensor x) {
        return Ops.layerNorm(x, finalNormWeight, finalNormBias, eps);
    }

    /** Each sequence's state at its end-of-text token, projected when the model has text_projection. */
    private Tensor pool(Tensor last, int[][] ids) {
        int batch = ids.length, tokens = ids[0].length;
        float[] pooled = new float[batch * hidden];
        for (int b = 0; b < batch; b++) {
            int t = poolPosition(ids[b]);
            System.arraycopy(last.data, (b * tokens + t) * hidden, pooled, b * hidden, hidden);
        }
        Tensor p = new Tensor(pooled, batch, hidden);
        return projection == null ? p : Ops.linear(p, projection, null);
    }

    /**
     * Where the end-of-text token is, by transformers' rule: the first position holding eos_token_id
     * (position 0 when there is none); configs that still say eos_token_id = 2 (old CLIP exports) take
     * the position of the largest id instead, which is the end token of the OpenAI vocabulary.
     */
    private int poolPosition(int[] row) {
        int eos = config.eosTokenId();
        int best = 0;
        for (int t = 0; t < row.length; t++) {
            if (eos == 2) {
                if (row[t] > row[best]) best = t;
            } else if (row[t] == eos) {
                return t;
            }
        }
        return eos == 2 ? best : 0;
    }
}
