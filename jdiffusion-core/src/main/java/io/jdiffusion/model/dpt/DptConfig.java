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
 * @param hybrid             a BiT ResNet stem before the ViT (DPT-Hybrid)
 * @param batchNormInFusion  batch norm in the fusion blocks' residual units
 * @param addProjection      a 3×3 conv + ReLU before the head
 * @param headInIndex        which fusion output the head reads (negative counts from the end)
 */
public record DptConfig(int heads, int layers, int patchSize, float layerNormEps, int[] outIndices, String readout,
                        double[] reassembleFactors, boolean hybrid, boolean batchNormInFusion, boolean addProjection,
                        int headInIndex) {

    public static DptConfig read(Path configJson) {
        return parse(Json.read(configJson), configJson.toString());
    }

    public static DptConfig parse(JsonNode c, String source) {
        String act = Json.textOr(c, "hidden_act", "gelu");
        if (!act.equals("gelu")) throw new JDiffusionException(source + ": hidden_act '" + act + "' is not supported (only gelu)");
        String readout = Json.textOr(c, "readout_type", "ignore");
        if (!readout.equals("project") && !readout.equals("add") && !readout.equals("ignore")) {
            throw new JDiffusionException(source + ": readout_type '" + readout + "' is not one of project, add, ignore");
        }
        JsonNode factors = c.get("reassemble_factors");
        if (factors == null || !factors.isArray()) throw new JDiffusionException(source + ": no reassemble_factors");
        double[] f = new double[factors.size()];
        for (int i = 0; i < f.length; i++) f[i] = factors.get(i).asDouble();
        int[] out = Json.ints(c, "backbone_out_indices");
        if (out.length != f.length) {
            throw new JDiffusionException(source + ": " + out.length + " backbone_out_indices for " + f.length + " reassemble_factors");
        }
        return new DptConfig(Json.intOr(c, "num_attention_heads", 12), Json.intOr(c, "num_hidden_layers", 12),
                Json.intOr(c, "patch_size", 16), (float) Json.doubleOr(c, "layer_norm_eps", 1e-12), out, readout, f,
                Json.boolOr(c, "is_hybrid", false), Json.boolOr(c, "use_batch_norm_in_fusion_residual", false),
                Json.boolOr(c, "add_projection", false), Json.intOr(c, "head_in_index", -1));
    }
}
