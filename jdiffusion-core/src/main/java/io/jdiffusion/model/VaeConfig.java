package io.jdiffusion.model;

import com.fasterxml.jackson.databind.JsonNode;

/** The VAE's architecture (diffusers AutoencoderKL config), from a config file or inferred from the weights. */
public record VaeConfig(
        int inChannels,
        int outChannels,
        int latentChannels,
        int[] blockOutChannels,
        int layersPerBlock,
        int normGroups,
        double scalingFactor,
        double shiftFactor,
        boolean useQuantConv,
        boolean usePostQuantConv,
        boolean midBlockAttention) {

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

    /** How many image pixels one latent pixel spans per side: 2 per downsampling level (8 for SD, 4 for the x4 upscaler). */
    public int downscaleFactor() {
        return 1 << (blockOutChannels.length - 1);
    }

    public static VaeConfig fromDiffusers(JsonNode c) {
        return new VaeConfig(
                Json.intOr(c, "in_channels", 3),
                Json.intOr(c, "out_channels", 3),
                Json.intOr(c, "latent_channels", 4),
                Json.ints(c, "block_out_channels"),
                Json.intOr(c, "layers_per_block", 2),
                Json.intOr(c, "norm_num_groups", 32),
                Json.doubleOr(c, "scaling_factor", 0.18215),
                Json.doubleOr(c, "shift_factor", 0.0),
                Json.boolOr(c, "use_quant_conv", true),
                Json.boolOr(c, "use_post_quant_conv", true),
                Json.boolOr(c, "mid_block_add_attention", true));
    }
}
