package io.jdiffusion.model;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A CLIP text transformer (transformers CLIPTextModel / CLIPTextModelWithProjection config).
 *
 * @param hiddenAct     "quick_gelu" (OpenAI CLIP, SD 1.x) or "gelu" (OpenCLIP, SD 2.x / SDXL)
 * @param projectionDim size of text_projection's output, 0 when the model has no projection
 */
public record ClipTextConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHeads,
        int numLayers,
        int maxPositions,
        String hiddenAct,
        double layerNormEps,
        int projectionDim,
        int eosTokenId) {

    /**
     * Reads a transformers {@code text_encoder/config.json}. Its projection_dim counts only for
     * CLIPTextModelWithProjection: a plain CLIPTextModel (SD 1.x / 2.x) config carries the number too,
     * but that model has no projection.
     */
    public static ClipTextConfig fromTransformers(JsonNode c) {
        return new ClipTextConfig(
                Json.intOr(c, "vocab_size", 49408),
                Json.intOr(c, "hidden_size", 768),
                Json.intOr(c, "intermediate_size", 3072),
                Json.intOr(c, "num_attention_heads", 12),
                Json.intOr(c, "num_hidden_layers", 12),
                Json.intOr(c, "max_position_embeddings", 77),
                Json.textOr(c, "hidden_act", "quick_gelu"),
                Json.doubleOr(c, "layer_norm_eps", 1e-5),
                hasProjection(c) ? Json.intOr(c, "projection_dim", 0) : 0,
                Json.intOr(c, "eos_token_id", 49407));
    }

    private static boolean hasProjection(JsonNode c) {
        for (String architecture : Json.strings(c, "architectures")) {
            if (architecture.endsWith("WithProjection")) return true;
        }
        return false;
    }
}
