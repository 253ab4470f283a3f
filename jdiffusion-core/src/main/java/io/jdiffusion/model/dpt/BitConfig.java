package io.jdiffusion.model.dpt;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.Json;

import java.util.Locale;

/**
 * The parts of a transformers {@code BitConfig} (the {@code backbone_config} of a DPT-Hybrid config.json) that
 * shape the computation; channel counts are read from the weights. Missing keys take BitConfig's defaults, or,
 * where the DPT config has no backbone_config at all, the defaults DPTConfig gives a hybrid model.
 *
 * @param depths                  residual units per stage
 * @param padding                 how every convolution pads: TF "SAME", or torch's symmetric default
 * @param groups                  group-norm groups
 * @param embeddingDynamicPadding the stem's max pool pads "SAME"-style (else it does not pad)
 * @param featureStages           which stage outputs the backbone hands on (0 = the stem, 1 = the first stage, ...)
 */
public record BitConfig(int[] depths, Padding padding, int groups, boolean embeddingDynamicPadding, int[] featureStages) {

    /**
     * The convolution padding schemes ({@code global_padding}) bottleneck units can run with ("VALID" cannot: its
     * 3×3 convolutions shrink the maps below the size of the shortcut they are added to).
     */
    public enum Padding {
        /** TensorFlow's "SAME": output size ceil(in / stride), any extra pixel on the bottom/right. */
        SAME,
        /** Symmetric ((stride − 1) + (k − 1)) / 2 on every side (no global_padding). */
        SYMMETRIC
    }

    /** DPT's backbone_config (may be null: the hybrid defaults); {@code source} names the file in errors. */
    static BitConfig parse(JsonNode c, String source) {
        if (c == null || c.isNull()) {
            // DPTConfig's defaults for a hybrid model without a backbone_config
            return new BitConfig(new int[]{3, 4, 9}, Padding.SAME, 32, true, new int[]{1, 2, 3});
        }
        String type = Json.textOr(c, "model_type", "bit");
        if (!type.equals("bit")) throw new JDiffusionException(source + ": backbone_config model_type '" + type + "' is not supported for DPT-Hybrid (only bit)");
        String layerType = Json.textOr(c, "layer_type", "preactivation");
        if (!layerType.equals("bottleneck")) {
            throw new JDiffusionException(source + ": backbone_config layer_type '" + layerType + "' is not supported (only bottleneck, as DPT-Hybrid uses)");
        }
        String act = Json.textOr(c, "hidden_act", "relu");
        if (!act.equals("relu")) throw new JDiffusionException(source + ": backbone_config hidden_act '" + act + "' is not supported (only relu)");
        String pad = Json.textOr(c, "global_padding", null);
        Padding padding;
        if (pad == null) {
            padding = Padding.SYMMETRIC;
        } else {
            if (!pad.toUpperCase(Locale.ROOT).equals("SAME")) {
                throw new JDiffusionException(source + ": backbone_config global_padding '" + pad + "' is not supported (only SAME or null)");
            }
            padding = Padding.SAME;
        }
        int[] depths = c.has("depths") ? Json.ints(c, "depths") : new int[]{3, 4, 6, 3};
        // BiT strides by 4 in the stem, then by 2 from the second stage on; past output_stride it would dilate
        int outputStride = Json.intOr(c, "output_stride", 32);
        int stride = 4;
        for (int s = 1; s < depths.length; s++) {
            if (stride >= outputStride) {
                throw new JDiffusionException(source + ": backbone_config output_stride " + outputStride + " makes stage " + (s + 1)
                        + " dilate, which is not supported");
            }
            stride *= 2;
        }
        return new BitConfig(depths, padding, Json.intOr(c, "num_groups", 32), Json.boolOr(c, "embedding_dynamic_padding", false),
                featureStages(c, depths.length, source));
    }

    /** out_features ("stem", "stage1", ...) or out_indices, as saved under either spelling; else the last stage. */
    private static int[] featureStages(JsonNode c, int stages, String source) {
        for (String key : new String[]{"out_features", "_out_features"}) {
            JsonNode v = c.get(key);
            if (v != null && v.isArray()) {
                int[] out = new int[v.size()];
                for (int i = 0; i < out.length; i++) {
                    String name = v.get(i).asText();
                    out[i] = name.equals("stem") ? 0 : stageNumber(name, stages, source);
                }
                return out;
            }
        }
        for (String key : new String[]{"out_indices", "_out_indices"}) {
            JsonNode v = c.get(key);
            if (v != null && v.isArray()) {
                int[] out = Json.ints(c, key);
                for (int i = 0; i < out.length; i++) {
                    if (out[i] < 0) out[i] += stages + 1;
                    if (out[i] < 0 || out[i] > stages) throw new JDiffusionException(source + ": backbone_config " + key + " " + v + " names no stage");
                }
                return out;
            }
        }
        return new int[]{stages};
    }

    private static int stageNumber(String name, int stages, String source) {
        if (name.startsWith("stage")) {
            try {
                int n = Integer.parseInt(name.substring(5));
                if (n >= 1 && n <= stages) return n;
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        throw new JDiffusionException(source + ": backbone_config out_features names '" + name + "', not one of stem, stage1..stage" + stages);
    }
}
