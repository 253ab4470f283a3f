package io.jdiffusion.testing;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.model.Json;
import io.jdiffusion.tensor.Weight;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes an SDXL diffusers folder as the single original-layout file Stability AI publishes (the sgm
 * layout): {@code model.diffusion_model.*} with flat input/middle/output blocks and {@code label_emb},
 * {@code first_stage_model.*} with the LDM VAE names and 1×1-conv attention, CLIP ViT-L under
 * {@code conditioner.embedders.0.transformer.}, and OpenCLIP ViT-bigG under {@code conditioner.embedders.1.model.}
 * with q/k/v fused into {@code in_proj} and the projection stored transposed. The mapping is written here
 * independently of the loader's, from the diffusers conversion rules, so a test can check the loader
 * undoes it. Every tensor keeps its stored bytes (and dtype).
 */
public final class SdxlOriginalLayout {
    private SdxlOriginalLayout() {
    }

    public static void write(Path diffusersDir, Path file) {
        Map<String, Weight> out = unetAndVae(diffusersDir);
        each(diffusersDir.resolve("text_encoder/model.safetensors"),
                (name, w) -> put(out, "conditioner.embedders.0.transformer." + name, w));
        Map<String, Weight> text2 = SafeTensors.open(diffusersDir.resolve("text_encoder_2/model.safetensors")).tensors();
        openClip(out, "conditioner.embedders.1.model.", text2);
        SafeTensorsWriter.write(file, out);
    }

    /**
     * Writes an SDXL refiner folder (no text_encoder/) as sd_xl_refiner_1.0.safetensors is laid out: its one text
     * encoder, OpenCLIP ViT-bigG, is the conditioner's first embedder, {@code conditioner.embedders.0.model.}.
     */
    public static void writeRefiner(Path diffusersDir, Path file) {
        Map<String, Weight> out = unetAndVae(diffusersDir);
        Map<String, Weight> text2 = SafeTensors.open(diffusersDir.resolve("text_encoder_2/model.safetensors")).tensors();
        openClip(out, "conditioner.embedders.0.model.", text2);
        SafeTensorsWriter.write(file, out);
    }

    private static Map<String, Weight> unetAndVae(Path diffusersDir) {
        Map<String, Weight> out = new LinkedHashMap<>();
        JsonNode unetConfig = Json.read(diffusersDir.resolve("unet/config.json"));
        int layers = unetConfig.get("layers_per_block").asInt();
        Map<String, Weight> unet = SafeTensors.open(diffusersDir.resolve("unet/diffusion_pytorch_model.safetensors")).tensors();
        unet.forEach((name, w) -> put(out, "model.diffusion_model." + unetName(name, layers, unet.keySet()), w));
        int vaeLevels = Json.read(diffusersDir.resolve("vae/config.json")).get("block_out_channels").size();
        each(diffusersDir.resolve("vae/diffusion_pytorch_model.safetensors"), (name, w) -> vae(out, name, w, vaeLevels));
        return out;
    }

    private interface Visitor {
        void accept(String name, Weight w);
    }

    private static void each(Path file, Visitor v) {
        SafeTensors.open(file).tensors().forEach(v::accept);
    }

    static void put(Map<String, Weight> out, String name, Weight w) {
        if (out.put(name, w) != null) throw new IllegalStateException("two tensors map to " + name);
    }

    // ------------------------------------------------------------------ UNet

    private static final Map<String, String> RESNET = Map.of(
            "norm1", "in_layers.0", "conv1", "in_layers.2", "time_emb_proj", "emb_layers.1",
            "norm2", "out_layers.0", "conv2", "out_layers.3", "conv_shortcut", "skip_connection");
    private static final Pattern DOWN = Pattern.compile("down_blocks\\.(\\d+)\\.(resnets|attentions|downsamplers)\\.(\\d+)\\.(.*)");
    private static final Pattern UP = Pattern.compile("up_blocks\\.(\\d+)\\.(resnets|attentions|upsamplers)\\.(\\d+)\\.(.*)");
    private static final Pattern MID = Pattern.compile("mid_block\\.(resnets|attentions)\\.(\\d+)\\.(.*)");

    static String unetName(String name, int layers, Set<String> all) {
        Map<String, String> top = Map.of(
                "conv_in.", "input_blocks.0.0.", "time_embedding.linear_1.", "time_embed.0.",
                "time_embedding.linear_2.", "time_embed.2.", "add_embedding.linear_1.", "label_emb.0.0.",
                "add_embedding.linear_2.", "label_emb.0.2.", "conv_norm_out.", "out.0.", "conv_out.", "out.2.");
        for (var e : top.entrySet()) if (name.startsWith(e.getKey())) return e.getValue() + name.substring(e.getKey().length());
        Matcher m = DOWN.matcher(name);
        if (m.matches()) {
            int level = Integer.parseInt(m.group(1)), index = Integer.parseInt(m.group(3));
            int block = 1 + level * (layers + 1);
            return switch (m.group(2)) {
                case "resnets" -> "input_blocks." + (block + index) + ".0." + resnetPart(m.group(4));
                case "attentions" -> "input_blocks." + (block + index) + ".1." + m.group(4);
                default -> "input_blocks." + (block + layers) + ".0.op." + m.group(4).substring("conv.".length());
            };
        }
        m = MID.matcher(name);
        if (m.matches()) {
            // resnet, transformer, resnet
            int part = m.group(1).equals("resnets") ? 2 * Integer.parseInt(m.group(2)) : 1;
            return "middle_block." + part + "." + (m.group(1).equals("resnets") ? resnetPart(m.group(3)) : m.group(3));
        }
        m = UP.matcher(name);
        if (m.matches()) {
            int level = Integer.parseInt(m.group(1)), index = Integer.parseInt(m.group(3));
            int block = level * (layers + 1);
            return switch (m.group(2)) {
                case "resnets" -> "output_blocks." + (block + index) + ".0." + resnetPart(m.group(4));
                case "attentions" -> "output_blocks." + (block + index) + ".1." + m.group(4);
                // the upsampler follows the last resnet (and its transformer, when the level has one)
                default -> "output_blocks." + (block + layers) + "." + (hasPrefix(all, "up_blocks." + level + ".attentions.") ? 2 : 1)
                        + ".conv." + m.group(4).substring("conv.".length());
            };
        }
        throw new IllegalArgumentException("unexpected UNet tensor " + name);
    }

    private static boolean hasPrefix(Set<String> names, String prefix) {
        return names.stream().anyMatch(n -> n.startsWith(prefix));
    }

    private static String resnetPart(String rest) {
        int dot = rest.indexOf('.');
        String mapped = RESNET.get(rest.substring(0, dot));
        if (mapped == null) throw new IllegalArgumentException("unexpected resnet tensor " + rest);
        return mapped + rest.substring(dot);
    }

    // ------------------------------------------------------------------ VAE

    private static final Map<String, String> VAE_RESNET = Map.of(
            "norm1", "norm1", "conv1", "conv1", "norm2", "norm2", "conv2", "conv2", "conv_shortcut", "nin_shortcut");
    private static final Map<String, String> VAE_ATTENTION = Map.of(
            "group_norm", "norm", "to_q", "q", "to_k", "k", "to_v", "v", "to_out.0", "proj_out");

    static void vae(Map<String, Weight> out, String name, Weight w, int levels) {
        String p = "first_stage_model.";
        Matcher m;
        if ((m = Pattern.compile("(encoder|decoder)\\.(conv_in|conv_out)\\.(.*)").matcher(name)).matches()
                || (m = Pattern.compile("(post_quant_conv|quant_conv)\\.(.*)").matcher(name)).matches()) {
            put(out, p + name, w);
        } else if ((m = Pattern.compile("(encoder|decoder)\\.conv_norm_out\\.(.*)").matcher(name)).matches()) {
            put(out, p + m.group(1) + ".norm_out." + m.group(2), w);
        } else if ((m = Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.(\\w+)\\.(.*)").matcher(name)).matches()) {
            put(out, p + "encoder.down." + m.group(1) + ".block." + m.group(2) + "." + VAE_RESNET.get(m.group(3)) + "." + m.group(4), w);
        } else if ((m = Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\.downsamplers\\.0\\.conv\\.(.*)").matcher(name)).matches()) {
            put(out, p + "encoder.down." + m.group(1) + ".downsample.conv." + m.group(2), w);
        } else if ((m = Pattern.compile("decoder\\.up_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.(\\w+)\\.(.*)").matcher(name)).matches()) {
            int original = levels - 1 - Integer.parseInt(m.group(1));
            put(out, p + "decoder.up." + original + ".block." + m.group(2) + "." + VAE_RESNET.get(m.group(3)) + "." + m.group(4), w);
        } else if ((m = Pattern.compile("decoder\\.up_blocks\\.(\\d+)\\.upsamplers\\.0\\.conv\\.(.*)").matcher(name)).matches()) {
            int original = levels - 1 - Integer.parseInt(m.group(1));
            put(out, p + "decoder.up." + original + ".upsample.conv." + m.group(2), w);
        } else if ((m = Pattern.compile("(encoder|decoder)\\.mid_block\\.resnets\\.(\\d)\\.(\\w+)\\.(.*)").matcher(name)).matches()) {
            put(out, p + m.group(1) + ".mid.block_" + (Integer.parseInt(m.group(2)) + 1) + "." + VAE_RESNET.get(m.group(3)) + "." + m.group(4), w);
        } else if ((m = Pattern.compile("(encoder|decoder)\\.mid_block\\.attentions\\.0\\.(group_norm|to_q|to_k|to_v|to_out\\.0)\\.(weight|bias)").matcher(name)).matches()) {
            String target = p + m.group(1) + ".mid.attn_1." + VAE_ATTENTION.get(m.group(2)) + "." + m.group(3);
            boolean conv = m.group(3).equals("weight") && !m.group(2).equals("group_norm");
            put(out, target, conv ? w.reshape(target, w.shape()[0], w.shape()[1], 1, 1) : w);
        } else {
            throw new IllegalArgumentException("unexpected VAE tensor " + name);
        }
    }

    // ------------------------------------------------------------------ OpenCLIP text tower

    private static final Pattern LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d+)\\.(.*)\\.(weight|bias)");
    private static final Map<String, String> OPEN_CLIP_LAYER = Map.of(
            "layer_norm1", "ln_1", "layer_norm2", "ln_2", "self_attn.out_proj", "attn.out_proj", "mlp.fc1", "mlp.c_fc", "mlp.fc2", "mlp.c_proj");

    static void openClip(Map<String, Weight> out, String p, Map<String, Weight> t) {
        for (var e : t.entrySet()) {
            String name = e.getKey();
            Weight w = e.getValue();
            Matcher m = LAYER.matcher(name);
            if (name.equals("text_model.embeddings.token_embedding.weight")) {
                put(out, p + "token_embedding.weight", w);
            } else if (name.equals("text_model.embeddings.position_embedding.weight")) {
                put(out, p + "positional_embedding", w);
            } else if (name.startsWith("text_model.final_layer_norm.")) {
                put(out, p + "ln_final." + name.substring("text_model.final_layer_norm.".length()), w);
            } else if (name.equals("text_projection.weight")) {
                put(out, p + "text_projection", transpose(w));
            } else if (m.matches() && m.group(2).matches("self_attn\\.[qkv]_proj")) {
                if (m.group(2).equals("self_attn.q_proj")) {
                    String layer = "text_model.encoder.layers." + m.group(1) + ".self_attn.";
                    String leaf = m.group(3);
                    put(out, p + "transformer.resblocks." + m.group(1) + ".attn.in_proj_" + leaf,
                            rows(t.get(layer + "q_proj." + leaf), t.get(layer + "k_proj." + leaf), t.get(layer + "v_proj." + leaf)));
                }
            } else if (m.matches() && OPEN_CLIP_LAYER.containsKey(m.group(2))) {
                put(out, p + "transformer.resblocks." + m.group(1) + "." + OPEN_CLIP_LAYER.get(m.group(2)) + "." + m.group(3), w);
            } else if (!name.endsWith("position_ids")) {
                throw new IllegalArgumentException("unexpected text encoder tensor " + name);
            }
        }
        // OpenCLIP's contrastive temperature, which every published file carries and text-to-image ignores
        put(out, p + "logit_scale", Weight.ofFloats("logit_scale", new float[]{4.6052f}));
    }

    /** Matrices (or vectors) stacked along dim 0, bytes unchanged: q, k, v → in_proj. */
    private static Weight rows(Weight... parts) {
        long bytes = 0, rows = 0;
        for (Weight w : parts) {
            bytes += w.data().byteSize();
            rows += w.shape()[0];
        }
        MemorySegment data = MemorySegment.ofArray(new byte[Math.toIntExact(bytes)]);
        long at = 0;
        for (Weight w : parts) {
            MemorySegment.copy(w.data(), 0, data, at, w.data().byteSize());
            at += w.data().byteSize();
        }
        long[] shape = parts[0].shape().clone();
        shape[0] = rows;
        return new Weight("in_proj", parts[0].dtype(), shape, data);
    }

    private static Weight transpose(Weight w) {
        long r = w.shape()[0], c = w.shape()[1];
        int size = w.dtype().bytes;
        MemorySegment data = MemorySegment.ofArray(new byte[Math.toIntExact(w.data().byteSize())]);
        for (long i = 0; i < r; i++) {
            for (long j = 0; j < c; j++) MemorySegment.copy(w.data(), (i * c + j) * size, data, (j * r + i) * size, size);
        }
        return new Weight("text_projection", w.dtype(), new long[]{c, r}, data);
    }
}
