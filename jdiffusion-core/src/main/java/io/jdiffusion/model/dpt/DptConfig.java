package io.jdiffusion.model.dpt;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.Json;

import java.nio.file.Path;

/**
 * The parts of a transformers {@code DPTConfig} (config.json of a {@code DPTForDepthEstimation}) that shape
 * the computation; channel counts are read from the weights.
 *
 * @param heads              attention heads of the ViT layers
 * @param layers             ViT layers
 * @param patchSize          side of the square patches the image is cut into
 * @param layerNormEps       epsilon of the ViT layer norms
 * @param outIndices         which ViT layers' outputs feed the neck (one per reassemble stage)
 * @param readout            what happens to the CLS token in the reassemble stage: project, add or ignore
 * @param reassembleFactors  per stage: transposed-conv upsampling (> 1), identity (1) or stride-2 conv (< 1)
 * @param neckIgnoreStages   stages the reassemble step passes through untouched (DPT-Hybrid: the two BiT maps)
 * @param backbone           the BiT ResNet before the ViT of DPT-Hybrid ({@code is_hybrid}); null for a plain ViT
 * @param batchNormInFusion  batch norm in the fusion blocks' residual units
 * @param addProjection      a 3×3 conv + ReLU before the head
 * @param headInIndex        which fusion output the head reads (negative counts from the end)
 */
public record DptConfig(int heads, int layers, int patchSize, float layerNormEps, int[] outIndices, String readout,
                        double[] reassembleFactors, int[] neckIgnoreStages, BitConfig backbone, boolean batchNormInFusion,
                        boolean addProjection, int headInIndex) {

    /** The stages DPT-Hybrid takes from its BiT backbone's feature maps instead of from ViT layers. */
    static final int[] HYBRID_BACKBONE_STAGES = {0, 1};

    public static DptConfig read(Path configJson) {
        return parse(Json.read(configJson), configJson.toString());
    }

    public static DptConfig parse(JsonNode c, String source) {
        String act = Json.textOr(c, "hidden_act", "gelu");
        if (!act.equals("gelu")) throw new JDiffusionException(source + ": hidden_act '" + act + "' is not supported (only gelu)");
        String readout = Json.textOr(c, "readout_type", "project");
        if (!readout.equals("project") && !readout.equals("add") && !readout.equals("ignore")) {
            throw new JDiffusionException(source + ": readout_type '" + readout + "' is not one of project, add, ignore");
        }
        double[] f = {4, 2, 1, 0.5};
        JsonNode factors = c.get("reassemble_factors");
        if (factors != null && factors.isArray()) {
            f = new double[factors.size()];
            for (int i = 0; i < f.length; i++) f[i] = factors.get(i).asDouble();
        }
        int[] out = c.hasNonNull("backbone_out_indices") ? Json.ints(c, "backbone_out_indices") : new int[]{2, 5, 8, 11};
        if (out.length != f.length) {
            throw new JDiffusionException(source + ": " + out.length + " backbone_out_indices for " + f.length + " reassemble_factors");
        }
        boolean hybrid = Json.boolOr(c, "is_hybrid", false);
        BitConfig backbone = null;
        int[] ignore = {};
        if (hybrid) {
            if (!readout.equals("project")) throw new JDiffusionException(source + ": DPT-Hybrid needs readout_type 'project', not '" + readout + "'");
            backbone = BitConfig.parse(c.get("backbone_config"), source);
            ignore = c.hasNonNull("neck_ignore_stages") ? Json.ints(c, "neck_ignore_stages") : HYBRID_BACKBONE_STAGES.clone();
            if (!java.util.Arrays.equals(ignore, HYBRID_BACKBONE_STAGES)) {
                throw new JDiffusionException(source + ": neck_ignore_stages " + java.util.Arrays.toString(ignore)
                        + " is not supported for DPT-Hybrid (only [0, 1], the two BiT feature maps)");
            }
            if (backbone.featureStages().length != 3) {
                throw new JDiffusionException(source + ": DPT-Hybrid needs 3 BiT feature maps (backbone_config out_features), not "
                        + backbone.featureStages().length);
            }
            if (f.length <= ignore.length) throw new JDiffusionException(source + ": DPT-Hybrid needs more than 2 reassemble stages");
        } else if (c.hasNonNull("backbone_config")) {
            throw new JDiffusionException(source + ": a DPT with a separate backbone ('" + Json.textOr(c.get("backbone_config"), "model_type", "?")
                    + "') is not supported; only the plain ViT and DPT-Hybrid (is_hybrid true)");
        }
        return new DptConfig(Json.intOr(c, "num_attention_heads", 12), Json.intOr(c, "num_hidden_layers", 12),
                Json.intOr(c, "patch_size", 16), (float) Json.doubleOr(c, "layer_norm_eps", 1e-12), out, readout, f,
                ignore, backbone, Json.boolOr(c, "use_batch_norm_in_fusion_residual", false),
                Json.boolOr(c, "add_projection", false), Json.intOr(c, "head_in_index", -1));
    }

    /** DPT-Hybrid: a BiT ResNet turns the image into the ViT's tokens and feeds the first reassemble stages. */
    public boolean hybrid() {
        return backbone != null;
    }
}
