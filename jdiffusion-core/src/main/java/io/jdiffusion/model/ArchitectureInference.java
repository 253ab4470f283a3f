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
 * attention block; SD 2.x UNet one head per 64 channels), GroupNorm's 32 groups and the VAE's latent
 * scaling factor.
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

    private ArchitectureInference() {
    }

    static UNetConfig unet(Weights w, ModelFamily family) {
        Set<String> names = w.names();
        int levels = indices(names, "down_blocks.").size();
        if (levels == 0) throw new JDiffusionException(w.source() + ": the UNet has no down blocks");
        int[] channels = new int[levels];
        boolean[] downAttention = new boolean[levels], upAttention = new boolean[levels];
        int[] depth = new int[levels], heads = new int[levels];
        for (int l = 0; l < levels; l++) {
            channels[l] = w.get("down_blocks." + l + ".resnets.0.conv1.weight").dim(0);
            String attention = "down_blocks." + l + ".attentions.0.";
            downAttention[l] = hasPrefix(names, attention);
            upAttention[l] = hasPrefix(names, "up_blocks." + l + ".attentions.0.");
            // levels without attention get 1, as diffusers' configs write it
            depth[l] = downAttention[l] ? Math.max(1, indices(names, attention + "transformer_blocks.").size()) : 1;
            heads[l] = family == ModelFamily.SD1 ? SD1_UNET_HEADS : Math.max(1, channels[l] / HEAD_WIDTH);
            if (downAttention[l] && channels[l] % heads[l] != 0) {
                throw new JDiffusionException(w.source() + ": UNet level " + l + " has " + channels[l] + " channels, which "
                        + heads[l] + " attention heads do not divide; give the model's unet/config.json with --config");
            }
        }
        String firstAttention = firstAttentionPrefix(names, levels);
        if (firstAttention == null) throw new JDiffusionException(w.source() + ": the UNet has no cross-attention blocks");
        int contextDim = w.get(firstAttention + "transformer_blocks.0.attn2.to_k.weight").dim(1);
        boolean linearProjection = w.get(firstAttention + "proj_in.weight").rank() == 2;
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
                null, 0, 0);
    }

    private static String firstAttentionPrefix(Set<String> names, int levels) {
        for (int l = 0; l < levels; l++) {
            String p = "down_blocks." + l + ".attentions.0.";
            if (hasPrefix(names, p)) return p;
        }
        return hasPrefix(names, "mid_block.attentions.0.") ? "mid_block.attentions.0." : null;
    }

    static VaeConfig vae(Weights w) {
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
                SD_VAE_SCALING_FACTOR, 0.0,
                w.has("quant_conv.weight"),
                w.has("post_quant_conv.weight"),
                hasPrefix(names, "encoder.mid_block.attentions.0."));
    }

    /**
     * @param layersUsed how many of the stored layers the model runs: all for SD 1.x; SD 2.x files hold one
     *                   more than the model reads (it takes the penultimate layer's output)
     */
    static ClipTextConfig clipText(Weights w, ModelFamily family) {
        var tokens = w.get("text_model.embeddings.token_embedding.weight");
        int hidden = tokens.dim(1);
        int vocab = tokens.dim(0);
        int stored = indices(w.names(), "text_model.encoder.layers.").size();
        int used = family == ModelFamily.SD2 ? stored - 1 : stored;
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
                family == ModelFamily.SD1 ? "quick_gelu" : "gelu",
                NORM_EPS,
                0, // SD 1.x / 2.x read the token states; the CLIP projection is not used
                vocab - 1); // CLIP's BPE vocabulary ends with <|endoftext|>
    }
}
