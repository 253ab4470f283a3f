package io.jdiffusion.model;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Weights;

import java.util.Set;

import static io.jdiffusion.model.LdmUNetNames.hasPrefix;
import static io.jdiffusion.model.LdmUNetNames.indices;

/**
 * Reads a network's architecture off its weights (internal names), for single-file checkpoints, which
 * carry no config. Sizes come from shapes and counts come from names. What no shape reveals follows the
 * published models: attention head counts (CLIP one head per 64 channels; SD 1.x UNet 8 heads per
 * attention block; SD 2.x and SDXL UNets one head per 64 channels; the x4 upscaler's UNet 8 per attention block),
 * GroupNorm's 32 groups, the VAE's latent scaling factor and SDXL's six size/crop time ids.
 *
 * <p>The x4 upscaler is told by its UNet's class embedding (the noise-level table, {@code label_emb.weight} in
 * the original): its attention head count and its VAE's scale differ from SD 2.x's.
 */
final class ArchitectureInference {
    /** Channels per attention head where the published models fix the head width rather than the count. */
    private static final int HEAD_WIDTH = 64;
    /** SD 1.x (CompVis v1 config num_heads: 8) fixes the count instead. */
    private static final int SD1_UNET_HEADS = 8;
    private static final int NORM_GROUPS = 32;
    private static final double NORM_EPS = 1e-5;
    /** SD 1.x and 2.x share the VAE trained for latent diffusion, and its latent scale. */
    private static final double SD_VAE_SCALING_FACTOR = 0.18215;
    /** SDXL retrained the VAE; its latents are scaled by this instead. */
    private static final double SDXL_VAE_SCALING_FACTOR = 0.13025;
    /** The x4 upscaler (its x4-upscaling.yaml: num_heads 8) fixes the count too. */
    private static final int UPSCALER_UNET_HEADS = 8;
    /** The x4 upscaler's own VAE scales its latents by this (x4-upscaling.yaml's scale_factor). */
    private static final double UPSCALER_VAE_SCALING_FACTOR = 0.08333;
    /** SDXL base's added time ids: original size (h, w), crop top-left (top, left), target size (h, w). */
    static final int SDXL_TIME_IDS = 6;
    /** The SDXL refiner's: original size (h, w), crop top-left (top, left), aesthetic score. */
    static final int SDXL_REFINER_TIME_IDS = 5;

    private ArchitectureInference() {
    }

    static UNetConfig unet(Weights w, ModelFamily family) {
        return unet(w, family, 0);
    }

    /**
     * @param pooledTextDim SDXL: the width of the pooled text embedding that the added embedding takes beside
     *                      the time ids (the second text encoder's projection); 0 for SD 1.x / 2.x
     */
    static UNetConfig unet(Weights w, ModelFamily family, int pooledTextDim) {
        return unet(w, family, pooledTextDim, SDXL_TIME_IDS);
    }

    /**
     * @param pooledTextDim as above
     * @param timeIds       SDXL: how many time ids the added embedding takes ({@link #SDXL_TIME_IDS} for the base,
     *                      {@link #SDXL_REFINER_TIME_IDS} for the refiner)
     */
    static UNetConfig unet(Weights w, ModelFamily family, int pooledTextDim, int timeIds) {
        Set<String> names = w.names();
        int levels = indices(names, "down_blocks.").size();
        if (levels == 0) throw new JDiffusionException(w.source() + ": the UNet has no down blocks");
        int[] channels = new int[levels];
        boolean[] downAttention = new boolean[levels], upAttention = new boolean[levels];
        int[] depth = new int[levels], heads = new int[levels];
        boolean[] onlyCrossAttention = new boolean[levels];
        boolean upscaler = isUpscaler(w);
        for (int l = 0; l < levels; l++) {
            channels[l] = w.get("down_blocks." + l + ".resnets.0.conv1.weight").dim(0);
            String attention = "down_blocks." + l + ".attentions.0.";
            downAttention[l] = hasPrefix(names, attention);
            upAttention[l] = hasPrefix(names, "up_blocks." + l + ".attentions.0.");
            // levels without attention get 1, as diffusers' configs write it
            depth[l] = downAttention[l] ? Math.max(1, indices(names, attention + "transformer_blocks.").size()) : 1;
            heads[l] = family == ModelFamily.SD1 ? SD1_UNET_HEADS : upscaler ? UPSCALER_UNET_HEADS : Math.max(1, channels[l] / HEAD_WIDTH);
            // a first attention whose keys are not the level's width attends to the text (only_cross_attention);
            // where the text is exactly as wide it cannot be told, and self-attention is what every published model has
            onlyCrossAttention[l] = downAttention[l] && w.get(attention + "transformer_blocks.0.attn1.to_k.weight").dim(1) != channels[l];
            if (downAttention[l] && channels[l] % heads[l] != 0) {
                throw new JDiffusionException(w.source() + ": UNet level " + l + " has " + channels[l] + " channels, which "
                        + heads[l] + " attention heads do not divide; give the model's unet/config.json with --config");
            }
        }
        // diffusers' mid block takes the last level's transformer depth: where that level has no attention of its
        // own (the SDXL refiner) the mid block's count is the level's
        String midAttention = "mid_block.attentions.0.";
        if (!downAttention[levels - 1] && hasPrefix(names, midAttention)) {
            depth[levels - 1] = Math.max(1, indices(names, midAttention + "transformer_blocks.").size());
        }
        String firstAttention = firstAttentionPrefix(names, levels);
        if (firstAttention == null) throw new JDiffusionException(w.source() + ": the UNet has no cross-attention blocks");
        int contextDim = w.get(firstAttention + "transformer_blocks.0.attn2.to_k.weight").dim(1);
        boolean linearProjection = w.get(firstAttention + "proj_in.weight").rank() == 2;

        // SDXL's add_embedding takes [pooled text, sinusoidal features of each time id]: its input width less the
        // pooled width, split over the six ids, is the features per id
        String addEmbedType = null;
        int addInput = 0, perTimeId = 0;
        if (w.has("add_embedding.linear_1.weight")) {
            addInput = w.get("add_embedding.linear_1.weight").dim(1);
            int idsWidth = addInput - pooledTextDim;
            if (pooledTextDim <= 0 || idsWidth <= 0 || idsWidth % timeIds != 0) {
                throw new JDiffusionException(w.source() + ": the UNet's added embedding takes " + addInput + " inputs, which is not a "
                        + pooledTextDim + "-wide pooled text embedding and " + timeIds + " time ids; give the model's unet/config.json with --config");
            }
            addEmbedType = "text_time";
            perTimeId = idsWidth / timeIds;
        }
        return new UNetConfig(
                w.get("conv_in.weight").dim(1),
                w.get("conv_out.weight").dim(0),
                channels,
                indices(names, "down_blocks.0.resnets.").size(),
                downAttention, upAttention,
                hasPrefix(names, "mid_block.attentions.0."),
                heads, depth,
                contextDim,
                linearProjection,
                NORM_GROUPS, NORM_EPS,
                true, 0, // sinusoidal time embedding: flip_sin_to_cos true, freq_shift 0, as in the LDM code
                addEmbedType, perTimeId, addInput,
                onlyCrossAttention, upscaler ? w.get("class_embedding.weight").dim(0) : 0);
    }

    /** Whether these UNet weights are the x4 upscaler's: a class embedding table (its noise levels). */
    static boolean isUpscaler(Weights unet) {
        return unet.has("class_embedding.weight");
    }

    private static String firstAttentionPrefix(Set<String> names, int levels) {
        for (int l = 0; l < levels; l++) {
            String p = "down_blocks." + l + ".attentions.0.";
            if (hasPrefix(names, p)) return p;
        }
        return hasPrefix(names, "mid_block.attentions.0.") ? "mid_block.attentions.0." : null;
    }

    static VaeConfig vae(Weights w, ModelFamily family) {
        return vae(w, family, false);
    }

    /** @param upscaler whether the VAE is the x4 upscaler's, whose latents have their own scale */
    static VaeConfig vae(Weights w, ModelFamily family, boolean upscaler) {
        Set<String> names = w.names();
        int levels = indices(names, "encoder.down_blocks.").size();
        if (levels == 0) throw new JDiffusionException(w.source() + ": the VAE has no encoder down blocks");
        int[] channels = new int[levels];
        for (int l = 0; l < levels; l++) channels[l] = w.get("encoder.down_blocks." + l + ".resnets.0.conv1.weight").dim(0);
        return new VaeConfig(
                w.get("encoder.conv_in.weight").dim(1),
                w.get("decoder.conv_out.weight").dim(0),
                w.get("decoder.conv_in.weight").dim(1),
                channels,
                indices(names, "encoder.down_blocks.0.resnets.").size(),
                NORM_GROUPS,
                upscaler ? UPSCALER_VAE_SCALING_FACTOR : family == ModelFamily.SDXL ? SDXL_VAE_SCALING_FACTOR : SD_VAE_SCALING_FACTOR, 0.0,
                w.has("quant_conv.weight"),
                w.has("post_quant_conv.weight"),
                hasPrefix(names, "encoder.mid_block.attentions.0."));
    }

    /**
     * The (first) text encoder: OpenAI CLIP (quick_gelu) for SD 1.x and SDXL, OpenCLIP (gelu) for SD 2.x,
     * whose files hold one more layer than the model reads (it takes the penultimate layer's output).
     */
    static ClipTextConfig clipText(Weights w, ModelFamily family) {
        return clipText(w, family, family == ModelFamily.SD2 ? "gelu" : "quick_gelu", family == ModelFamily.SD2 ? 1 : 0, 0);
    }

    /**
     * SDXL's second text encoder, OpenCLIP ViT-bigG with its projection: every stored layer runs (the pooled
     * output comes from the last one), the projection width is read off text_projection.
     */
    static ClipTextConfig sdxlSecondText(Weights w) {
        return clipText(w, ModelFamily.SDXL, "gelu", 0, w.get("text_projection.weight").dim(0));
    }

    private static ClipTextConfig clipText(Weights w, ModelFamily family, String hiddenAct, int unusedLayers, int projectionDim) {
        var tokens = w.get("text_model.embeddings.token_embedding.weight");
        int hidden = tokens.dim(1);
        int vocab = tokens.dim(0);
        int stored = indices(w.names(), "text_model.encoder.layers.").size();
        int used = stored - unusedLayers;
        int heads = Math.max(1, hidden / HEAD_WIDTH);
        if (hidden % heads != 0) {
            throw new JDiffusionException(w.source() + ": text encoder width " + hidden + " does not split into "
                    + heads + " attention heads; give the model's text_encoder/config.json with --config");
        }
        if (used < 1) throw new JDiffusionException(w.source() + ": the text encoder has " + stored + " layers, too few for " + family.displayName);
        return new ClipTextConfig(
                vocab,
                hidden,
                w.get("text_model.encoder.layers.0.mlp.fc1.weight").dim(0),
                heads,
                used,
                w.get("text_model.embeddings.position_embedding.weight").dim(0),
                hiddenAct,
                NORM_EPS,
                projectionDim, // SD 1.x / 2.x and SDXL's first encoder read the token states only
                vocab - 1); // CLIP's BPE vocabulary ends with <|endoftext|>
    }
}
