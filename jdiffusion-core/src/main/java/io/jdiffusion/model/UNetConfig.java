package io.jdiffusion.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;

/**
 * The UNet's architecture, in diffusers' terms (UNet2DConditionModel config). Every size here comes from a
 * config file or is inferred from the weights ({@link ModelLoader}); the network reads nothing else.
 *
 * @param blockOutChannels   channels of each resolution level, top to bottom
 * @param downAttention      per level: whether the down block has cross-attention transformers
 * @param upAttention        per up block (bottom to top): whether it has transformers
 * @param midAttention       whether the mid block has a transformer (UNetMidBlock2DCrossAttn)
 * @param headsPerBlock      attention heads per level (down order); up blocks use it reversed, mid the last
 * @param transformerDepth   transformer layers per level (down order)
 * @param addEmbedType       null, or "text_time" (SDXL: pooled text + size/crop time ids)
 * @param onlyCrossAttention per level (down order; up blocks use it reversed): whether the transformers' first
 *                           attention also attends to the text instead of to the image (the x4 upscaler's
 *                           upper levels)
 * @param numClassEmbeds     entries of the class embedding table whose row for each image's class label is added
 *                           to the time embedding (the x4 upscaler's noise level); 0 for none
 */
public record UNetConfig(
        int inChannels,
        int outChannels,
        int[] blockOutChannels,
        int layersPerBlock,
        boolean[] downAttention,
        boolean[] upAttention,
        boolean midAttention,
        int[] headsPerBlock,
        int[] transformerDepth,
        int crossAttentionDim,
        boolean useLinearProjection,
        int normGroups,
        double normEps,
        boolean flipSinToCos,
        int freqShift,
        String addEmbedType,
        int additionTimeEmbedDim,
        int projectionClassEmbeddingsInputDim,
        boolean[] onlyCrossAttention,
        int numClassEmbeds) {

    /** A UNet whose transformers all self-attend first, without a class embedding (every model but the x4 upscaler). */
    public UNetConfig(int inChannels, int outChannels, int[] blockOutChannels, int layersPerBlock, boolean[] downAttention,
                      boolean[] upAttention, boolean midAttention, int[] headsPerBlock, int[] transformerDepth,
                      int crossAttentionDim, boolean useLinearProjection, int normGroups, double normEps, boolean flipSinToCos,
                      int freqShift, String addEmbedType, int additionTimeEmbedDim, int projectionClassEmbeddingsInputDim) {
        this(inChannels, outChannels, blockOutChannels, layersPerBlock, downAttention, upAttention, midAttention, headsPerBlock,
                transformerDepth, crossAttentionDim, useLinearProjection, normGroups, normEps, flipSinToCos, freqShift, addEmbedType,
                additionTimeEmbedDim, projectionClassEmbeddingsInputDim, new boolean[blockOutChannels.length], 0);
    }

    /** Field-by-field, arrays by content. */
    @Override
    public boolean equals(Object o) {
        return RecordValues.equal(this, o);
    }

    @Override
    public int hashCode() {
        return RecordValues.hash(this);
    }

    @Override
    public String toString() {
        return RecordValues.text(this);
    }

    /** Reads a diffusers {@code unet/config.json}. */
    public static UNetConfig fromDiffusers(JsonNode c) {
        int[] boc = Json.ints(c, "block_out_channels");
        int levels = boc.length;
        String[] down = Json.strings(c, "down_block_types");
        String[] up = Json.strings(c, "up_block_types");
        boolean[] downAttn = new boolean[levels], upAttn = new boolean[levels];
        for (int i = 0; i < levels; i++) {
            downAttn[i] = down[i].startsWith("CrossAttn");
            upAttn[i] = up[i].startsWith("CrossAttn");
        }
        String mid = Json.textOr(c, "mid_block_type", "UNetMidBlock2DCrossAttn");
        // diffusers' long-standing naming quirk: "attention_head_dim" holds the number of heads when
        // "num_attention_heads" is not given.
        String headsKey = c.hasNonNull("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
        int[] heads = Json.intsOr(c, headsKey, levels, 8);
        int[] depth = Json.intsOr(c, "transformer_layers_per_block", levels, 1);
        String classEmbedType = Json.textOr(c, "class_embed_type", null);
        if (classEmbedType != null) {
            throw new JDiffusionException("unet/config.json: class_embed_type '" + classEmbedType
                    + "' is not supported (only a num_class_embeds table, as the x4 upscaler has)");
        }
        return new UNetConfig(
                Json.intOr(c, "in_channels", 4),
                Json.intOr(c, "out_channels", 4),
                boc,
                Json.intOr(c, "layers_per_block", 2),
                downAttn, upAttn,
                mid != null && mid.contains("CrossAttn"),
                heads, depth,
                Json.intOr(c, "cross_attention_dim", 768),
                Json.boolOr(c, "use_linear_projection", false),
                Json.intOr(c, "norm_num_groups", 32),
                Json.doubleOr(c, "norm_eps", 1e-5),
                Json.boolOr(c, "flip_sin_to_cos", true),
                Json.intOr(c, "freq_shift", 0),
                Json.textOr(c, "addition_embed_type", null),
                Json.intOr(c, "addition_time_embed_dim", 0),
                Json.intOr(c, "projection_class_embeddings_input_dim", 0),
                onlyCrossAttention(c, levels),
                Json.intOr(c, "num_class_embeds", 0));
    }

    /** only_cross_attention: one flag for every level or a list of them; false when absent. */
    private static boolean[] onlyCrossAttention(JsonNode c, int levels) {
        JsonNode node = c.get("only_cross_attention");
        boolean[] flags = new boolean[levels];
        if (node == null || node.isNull()) return flags;
        if (node.isBoolean()) {
            java.util.Arrays.fill(flags, node.booleanValue());
            return flags;
        }
        if (!node.isArray() || node.size() != levels) {
            throw new JDiffusionException("unet/config.json: only_cross_attention must be a boolean or " + levels + " of them, got " + node);
        }
        for (int i = 0; i < levels; i++) flags[i] = node.get(i).asBoolean();
        return flags;
    }
}
