package io.jdiffusion.model.unet;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.tensor.Workspace;

import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' Transformer2DModel on a feature map (the "SpatialTransformer" of the original code):
 * GroupNorm (eps 1e-6) → proj_in → transformer_blocks → proj_out, added to the input. proj_in/proj_out are
 * 1×1 convolutions (SD 1.x) or linear layers (use_linear_projection: SD 2.x, SDXL); either way the same
 * per-token map, so both run as a linear layer over the tokens.
 */
public final class Transformer2D {
    /** diffusers fixes this norm's eps, whatever the UNet's norm_eps. */
    private static final double NORM_EPS = 1e-6;
    /** BasicTransformerBlock's LayerNorm eps (diffusers' default, not taken from the UNet config). */
    private static final double LAYER_NORM_EPS = 1e-5;

    private final GroupNorm norm;
    private final Linear projIn;
    private final List<BasicTransformerBlock> transformerBlocks = new ArrayList<>();
    private final Linear projOut;

    /**
     * @param prefix e.g. {@code down_blocks.1.attentions.0}
     * @param depth  number of transformer_blocks (transformer_layers_per_block)
     */
    public Transformer2D(Weights w, String prefix, int channels, int heads, int depth, int contextDim,
                         boolean linearProjection, int groups) {
        this(w, prefix, channels, heads, depth, contextDim, linearProjection, groups, AttentionInputs.NONE);
    }

    /** @param attentionInputs what the attention layers' key and value projections see */
    public Transformer2D(Weights w, String prefix, int channels, int heads, int depth, int contextDim,
                         boolean linearProjection, int groups, AttentionInputs attentionInputs) {
        this(w, prefix, channels, heads, depth, contextDim, linearProjection, groups, false, attentionInputs);
    }

    /**
     * @param onlyCrossAttention the blocks' first attention attends to the context too, instead of to the
     *                           feature map itself (diffusers' only_cross_attention, the x4 upscaler's upper levels)
     */
    public Transformer2D(Weights w, String prefix, int channels, int heads, int depth, int contextDim,
                         boolean linearProjection, int groups, boolean onlyCrossAttention, AttentionInputs attentionInputs) {
        if (heads <= 0 || channels % heads != 0) {
            throw new JDiffusionException(w.source() + ": '" + prefix + "' has " + channels
                    + " channels, not divisible into " + heads + " attention heads");
        }
        String p = prefix + ".";
        norm = GroupNorm.load(w, p + "norm", channels, groups, NORM_EPS);
        projIn = linearProjection ? Linear.load(w, p + "proj_in", channels, channels, true)
                : Linear.loadConv1x1(w, p + "proj_in", channels, channels);
        for (int i = 0; i < depth; i++) {
            transformerBlocks.add(new BasicTransformerBlock(w, p + "transformer_blocks." + i, channels, heads, contextDim,
                    onlyCrossAttention, attentionInputs));
        }
        projOut = linearProjection ? Linear.load(w, p + "proj_out", channels, channels, true)
                : Linear.loadConv1x1(w, p + "proj_out", channels, channels);
    }

    /** x [B, C, H, W], context [B, T, contextDim] → [B, C, H, W]. */
    public Tensor forward(Tensor x, Tensor context) {
        try (Workspace.Scope scope = Workspace.scope()) {
            Tensor tokens = projIn.apply(Ops.toTokens(norm.apply(x)));
            for (BasicTransformerBlock block : transformerBlocks) block.forward(tokens, context);
            Tensor out = Ops.fromTokens(projOut.apply(tokens), x.dim(2), x.dim(3));
            Ops.addInPlace(out, x);
            return scope.keep(out);
        }
    }

    /**
     * Self-attention (attn1), cross-attention on the text (attn2) and a GEGLU feed-forward (ff), each after
     * its LayerNorm (norm1..3) and each added back to the tokens. With only_cross_attention attn1 attends to
     * the text as well.
     */
    static final class BasicTransformerBlock {
        private final LayerNorm norm1, norm2, norm3;
        private final Attention attn1, attn2;
        private final Linear ffIn;   // ff.net.0.proj: [2·inner, C], hidden half then gate half
        private final Linear ffOut;  // ff.net.2: [C, inner]
        private final boolean onlyCrossAttention;

        BasicTransformerBlock(Weights w, String prefix, int channels, int heads, int contextDim, boolean onlyCrossAttention,
                              AttentionInputs inputs) {
            String p = prefix + ".";
            this.onlyCrossAttention = onlyCrossAttention;
            norm1 = LayerNorm.load(w, p + "norm1", channels, LAYER_NORM_EPS);
            // only-cross-attention blocks (the x4 upscaler) attend to the constant text context in attn1 too
            attn1 = new Attention(w, p + "attn1", channels, onlyCrossAttention ? contextDim : channels, heads, inputs, onlyCrossAttention);
            norm2 = LayerNorm.load(w, p + "norm2", channels, LAYER_NORM_EPS);
            attn2 = new Attention(w, p + "attn2", channels, contextDim, heads, inputs, true);
            norm3 = LayerNorm.load(w, p + "norm3", channels, LAYER_NORM_EPS);
            // the feed-forward's inner width (4·C in every published model) is read from the checkpoint
            int inner = w.get(p + "ff.net.2.weight").dim(-1);
            ffIn = Linear.load(w, p + "ff.net.0.proj", 2 * inner, channels, true);
            ffOut = Linear.load(w, p + "ff.net.2", channels, inner, true);
        }

        /** Updates tokens [B, T, C] in place. */
        void forward(Tensor tokens, Tensor context) {
            try (Workspace.Scope scope = Workspace.scope()) {
                Tensor n = norm1.apply(tokens);
                Ops.addInPlace(tokens, attn1.forward(n, onlyCrossAttention ? context : n));
            }
            try (Workspace.Scope scope = Workspace.scope()) {
                Ops.addInPlace(tokens, attn2.forward(norm2.apply(tokens), context));
            }
            try (Workspace.Scope scope = Workspace.scope()) {
                Ops.addInPlace(tokens, ffOut.apply(Ops.geglu(ffIn.apply(norm3.apply(tokens)))));
            }
        }
    }

    /**
     * Multi-head attention: to_q, to_k, to_v without bias, to_out.0 with bias. Cross-attention keeps the key
     * and value projections of the last context it saw: a sampler passes the same text context tensor at
     * every step, so they are computed once per image instead of once per step.
     */
    static final class Attention {
        private final Linear toQ, toK, toV, toOut;
        private final int heads;
        private final AttentionInputs inputs;
        private final boolean cacheProjections;
        /** The projections of {@code context} (compared by identity: contexts are not changed in place). */
        private record Projected(Tensor context, Tensor k, Tensor v) {
        }

        private volatile Projected last;

        Attention(Weights w, String prefix, int channels, int keyDim, int heads, AttentionInputs inputs, boolean cacheProjections) {
            String p = prefix + ".";
            toQ = Linear.load(w, p + "to_q", channels, channels, false);
            toK = Linear.load(w, p + "to_k", channels, keyDim, false);
            toV = Linear.load(w, p + "to_v", channels, keyDim, false);
            toOut = Linear.load(w, p + "to_out.0", channels, channels, true);
            this.heads = heads;
            this.inputs = inputs;
            this.cacheProjections = cacheProjections;
        }

        /** x [B, T, C] attends to keys [B, S, keyDim] (x itself for self-attention) → [B, T, C]. */
        Tensor forward(Tensor x, Tensor keys) {
            Projected kv = last;
            if (kv == null || kv.context != keys) {
                if (cacheProjections) {
                    // kept for the next steps: made outside the call's workspace
                    kv = Workspace.unpooled(() -> project(keys));
                    last = kv;
                } else {
                    kv = project(keys);
                }
            }
            return toOut.apply(Ops.attention(toQ.apply(x), kv.k, kv.v, heads, false));
        }

        private Projected project(Tensor keys) {
            return new Projected(keys, toK.apply(inputs.keys(keys)), toV.apply(inputs.values(keys)));
        }
    }
}
