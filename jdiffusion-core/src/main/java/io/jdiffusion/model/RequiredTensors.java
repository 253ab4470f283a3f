package io.jdiffusion.model;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Weights;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * The tensors (internal names) each network needs for a given config, so that a damaged file or a config
 * that does not describe the weights is refused when the model loads, with the tensor named, rather than
 * halfway through a generation. Shapes are the networks' own check.
 */
final class RequiredTensors {
    private static final Predicate<String> SHORTCUT = n -> n.contains(".conv_shortcut.");
    private static final Predicate<String> POSITION_IDS = n -> n.equals("text_model.embeddings.position_ids");

    private RequiredTensors() {
    }

    /** Refuses the weights when one that the architecture needs is missing or one it has no place for is present. */
    static void check(String network, Weights weights, Set<String> required, Predicate<String> optional) {
        List<String> missing = new ArrayList<>();
        for (String name : required) if (!weights.has(name)) missing.add(name);
        if (!missing.isEmpty()) {
            throw new JDiffusionException(weights.source() + ": " + network + " tensor '" + missing.getFirst() + "' is missing"
                    + (missing.size() > 1 ? " (and " + (missing.size() - 1) + " more)" : ""));
        }
        List<String> unexpected = new ArrayList<>();
        for (String name : weights.names()) if (!required.contains(name) && !optional.test(name)) unexpected.add(name);
        if (!unexpected.isEmpty()) {
            throw new JDiffusionException(weights.source() + ": " + network + " tensor '" + unexpected.getFirst()
                    + "' has no place in the architecture its config describes"
                    + (unexpected.size() > 1 ? " (and " + (unexpected.size() - 1) + " more)" : ""));
        }
    }

    static void checkUNet(Weights w, UNetConfig c) {
        check("UNet", w, unet(c), SHORTCUT);
    }

    static void checkVae(Weights w, VaeConfig c) {
        check("VAE", w, vae(c), SHORTCUT);
    }

    static void checkText(Weights w, ClipTextConfig c) {
        check("text encoder", w, clipText(c), POSITION_IDS);
    }

    /** UNet2DConditionModel's parameters (a ResNet's conv_shortcut is optional: present when its channels change). */
    static Set<String> unet(UNetConfig c) {
        Set<String> out = new TreeSet<>();
        int levels = c.blockOutChannels().length;
        module(out, "conv_in");
        module(out, "time_embedding.linear_1");
        module(out, "time_embedding.linear_2");
        if (c.addEmbedType() != null) { // SDXL: pooled text and size/crop ids
            module(out, "add_embedding.linear_1");
            module(out, "add_embedding.linear_2");
        }
        if (c.numClassEmbeds() > 0) out.add("class_embedding.weight"); // the x4 upscaler's noise-level table
        for (int l = 0; l < levels; l++) {
            String down = "down_blocks." + l + ".";
            for (int r = 0; r < c.layersPerBlock(); r++) {
                unetResnet(out, down + "resnets." + r);
                if (c.downAttention()[l]) transformer(out, down + "attentions." + r, c.transformerDepth()[l]);
            }
            if (l < levels - 1) module(out, down + "downsamplers.0.conv");
        }
        unetResnet(out, "mid_block.resnets.0");
        if (c.midAttention()) transformer(out, "mid_block.attentions.0", c.transformerDepth()[levels - 1]);
        unetResnet(out, "mid_block.resnets.1");
        for (int u = 0; u < levels; u++) {
            String up = "up_blocks." + u + ".";
            for (int r = 0; r <= c.layersPerBlock(); r++) {
                unetResnet(out, up + "resnets." + r);
                // up levels run bottom to top, so they take the per-level settings in reverse
                if (c.upAttention()[u]) transformer(out, up + "attentions." + r, c.transformerDepth()[levels - 1 - u]);
            }
            if (u < levels - 1) module(out, up + "upsamplers.0.conv");
        }
        module(out, "conv_norm_out");
        module(out, "conv_out");
        return out;
    }

    private static void unetResnet(Set<String> out, String p) {
        for (String m : new String[]{"norm1", "conv1", "time_emb_proj", "norm2", "conv2"}) module(out, p + "." + m);
    }

    private static void transformer(Set<String> out, String p, int depth) {
        for (String m : new String[]{"norm", "proj_in", "proj_out"}) module(out, p + "." + m);
        for (int d = 0; d < depth; d++) {
            String b = p + ".transformer_blocks." + d + ".";
            for (String m : new String[]{"norm1", "norm2", "norm3", "attn1.to_out.0", "attn2.to_out.0", "ff.net.0.proj", "ff.net.2"}) {
                module(out, b + m);
            }
            for (String a : new String[]{"attn1", "attn2"}) {
                for (String proj : new String[]{"to_q", "to_k", "to_v"}) out.add(b + a + "." + proj + ".weight");
            }
        }
    }

    /** AutoencoderKL's parameters. */
    static Set<String> vae(VaeConfig c) {
        Set<String> out = new TreeSet<>();
        int levels = c.blockOutChannels().length;
        module(out, "encoder.conv_in");
        for (int l = 0; l < levels; l++) {
            for (int r = 0; r < c.layersPerBlock(); r++) vaeResnet(out, "encoder.down_blocks." + l + ".resnets." + r);
            if (l < levels - 1) module(out, "encoder.down_blocks." + l + ".downsamplers.0.conv");
        }
        vaeMidBlock(out, "encoder.mid_block", c.midBlockAttention());
        module(out, "encoder.conv_norm_out");
        module(out, "encoder.conv_out");
        if (c.useQuantConv()) module(out, "quant_conv");
        if (c.usePostQuantConv()) module(out, "post_quant_conv");
        module(out, "decoder.conv_in");
        vaeMidBlock(out, "decoder.mid_block", c.midBlockAttention());
        for (int u = 0; u < levels; u++) {
            for (int r = 0; r <= c.layersPerBlock(); r++) vaeResnet(out, "decoder.up_blocks." + u + ".resnets." + r);
            if (u < levels - 1) module(out, "decoder.up_blocks." + u + ".upsamplers.0.conv");
        }
        module(out, "decoder.conv_norm_out");
        module(out, "decoder.conv_out");
        return out;
    }

    private static void vaeResnet(Set<String> out, String p) {
        for (String m : new String[]{"norm1", "conv1", "norm2", "conv2"}) module(out, p + "." + m);
    }

    private static void vaeMidBlock(Set<String> out, String p, boolean attention) {
        vaeResnet(out, p + ".resnets.0");
        if (attention) {
            for (String m : new String[]{"group_norm", "to_q", "to_k", "to_v", "to_out.0"}) module(out, p + ".attentions.0." + m);
        }
        vaeResnet(out, p + ".resnets.1");
    }

    /** CLIPTextModel's parameters (and text_projection when the config has a projection). */
    static Set<String> clipText(ClipTextConfig c) {
        Set<String> out = new TreeSet<>();
        out.add("text_model.embeddings.token_embedding.weight");
        out.add("text_model.embeddings.position_embedding.weight");
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "text_model.encoder.layers." + i + ".";
            for (String m : new String[]{"layer_norm1", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                    "self_attn.out_proj", "layer_norm2", "mlp.fc1", "mlp.fc2"}) {
                module(out, p + m);
            }
        }
        module(out, "text_model.final_layer_norm");
        if (c.projectionDim() > 0) out.add("text_projection.weight");
        return out;
    }

    private static void module(Set<String> out, String prefix) {
        out.add(prefix + ".weight");
        out.add(prefix + ".bias");
    }
}
