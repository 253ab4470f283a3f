/**
 * Prompts as A1111 reads them, through one text encoder at a time.
 *
 * <ul>
 *   <li>{@link io.jdiffusion.prompt.PromptParser}: emphasis brackets, escapes and BREAK → weighted fragments.</li>
 *   <li>{@link io.jdiffusion.prompt.PromptEncoder}: tokenizes the fragments, cuts them into 75-token chunks
 *       (the comma rule, BREAK, embeddings kept whole), runs each chunk through the encoder, applies the
 *       emphasis and concatenates: [1, 77·k, width] plus, on request, the first chunk's pooled output.
 *       A model with two text encoders (SDXL) makes one per encoder and concatenates the contexts.</li>
 *   <li>{@link io.jdiffusion.prompt.Embeddings}, {@link io.jdiffusion.prompt.Embedding},
 *       {@link io.jdiffusion.prompt.EmbeddingFile}: textual-inversion embeddings (every layout
 *       {@link io.jdiffusion.model.addon.TextualInversion} reads: A1111 .pt and .safetensors, diffusers, SDXL),
 *       matched in prompts by their names' tokens.</li>
 *   <li>{@link io.jdiffusion.prompt.PromptEmbedding}: the result, and the padding of a shorter negative prompt.</li>
 * </ul>
 */
package io.jdiffusion.prompt;
