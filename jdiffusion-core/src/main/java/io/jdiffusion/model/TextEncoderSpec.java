package io.jdiffusion.model;

import io.jdiffusion.tensor.Weights;

/**
 * One CLIP text encoder as a model uses it.
 *
 * @param weights  transformers naming: {@code text_model.embeddings.token_embedding.weight},
 *                 {@code text_model.encoder.layers.<i>.self_attn.q_proj.weight}, ..., {@code text_model.final_layer_norm.*}
 *                 (and {@code text_projection.weight} when the config has a projection)
 * @param config   numLayers is the number of layers the model uses: a single SD 2.x file holds one more,
 *                 which the loader leaves out, as the published diffusers folders do
 * @param padToken the tokenizer's padding token text: "<|endoftext|>" (SD 1.x) or "!" (SD 2.x)
 */
public record TextEncoderSpec(ClipTextConfig config, Weights weights, String padToken) {
}
