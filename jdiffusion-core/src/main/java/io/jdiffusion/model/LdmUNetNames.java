package io.jdiffusion.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The UNet of an original (CompVis / LDM) checkpoint, names relative to {@code model.diffusion_model.},
 * mapped onto diffusers' UNet2DConditionModel names.
 *
 * <p>The original numbers its blocks flat: {@code input_blocks.N.M} and {@code output_blocks.N.M}, where
 * sub-module 0 is a ResBlock (or a downsampler {@code op}), 1 a SpatialTransformer (or an upsampler
 * {@code conv}), 2 an upsampler after a transformer. diffusers nests them per resolution level
 * ({@code down_blocks.L.resnets.P}, {@code .attentions.P}, {@code .downsamplers.0}). The level boundaries
 * are read from the file itself: a level ends at its downsampler (going down) or upsampler (going up), so
 * no block count is assumed.
 */
final class LdmUNetNames {
    /** Whole tensors outside the numbered blocks. */
    private static final Map<String, String> TOP_LEVEL = Map.of(
            "time_embed.0.", "time_embedding.linear_1.",
            "time_embed.2.", "time_embedding.linear_2.",
            "input_blocks.0.0.", "conv_in.",
            "out.0.", "conv_norm_out.",
            "out.2.", "conv_out.");

    /**
     * SDXL's added embedding (pooled text + size/crop ids): the original's label_emb Sequential (Linear, SiLU,
     * Linear). Only SDXL files map it: other UNets that carry a label_emb (unCLIP, class-conditioned) use
     * it for something else.
     */
    private static final Map<String, String> SDXL_ADDED_EMBEDDING = Map.of(
            "label_emb.0.0.", "add_embedding.linear_1.",
            "label_emb.0.2.", "add_embedding.linear_2.");

    /** The x4 upscaler's noise-level table (an nn.Embedding, where SDXL has a Sequential under the same name). */
    private static final String CLASS_EMBEDDING = "label_emb.weight";

    /** Inside a ResBlock (original) / ResnetBlock2D (diffusers). */
    private static final Map<String, String> RESNET = Map.of(
            "in_layers.0.", "norm1.",
            "in_layers.2.", "conv1.",
            "emb_layers.1.", "time_emb_proj.",
            "out_layers.0.", "norm2.",
            "out_layers.3.", "conv2.",
            "skip_connection.", "conv_shortcut.");

    private enum Kind {
        /** ResBlock: parts renamed by {@link #RESNET}. */
        RESNET,
        /** SpatialTransformer: diffusers kept the original names inside (norm, proj_in, transformer_blocks...). */
        TRANSFORMER,
        /** A bare convolution (down/upsampler): only weight and bias. */
        CONV
    }

    private record Target(String prefix, Kind kind) {
    }

    /** Original sub-module prefix ("input_blocks.4.1.") → where it goes. */
    private final Map<String, Target> modules = new LinkedHashMap<>();

    private final boolean sdxl;

    /**
     * @param names every UNet tensor name of the file, relative to model.diffusion_model.
     * @param sdxl  whether the file is an SDXL checkpoint, whose label_emb is the added embedding
     */
    LdmUNetNames(Set<String> names, boolean sdxl) {
        this.sdxl = sdxl;
        mapInputBlocks(names);
        mapMiddleBlock(names);
        mapOutputBlocks(names);
    }

    private void mapInputBlocks(Set<String> names) {
        int level = 0, position = 0;
        for (int block : indices(names, "input_blocks.")) {
            if (block == 0) continue; // conv_in, in TOP_LEVEL
            String original = "input_blocks." + block + ".";
            if (hasPrefix(names, original + "0.op.")) {
                modules.put(original + "0.op.", new Target("down_blocks." + level + ".downsamplers.0.conv.", Kind.CONV));
                level++;
                position = 0;
            } else {
                String down = "down_blocks." + level + ".";
                modules.put(original + "0.", new Target(down + "resnets." + position + ".", Kind.RESNET));
                modules.put(original + "1.", new Target(down + "attentions." + position + ".", Kind.TRANSFORMER));
                position++;
            }
        }
    }

    private void mapMiddleBlock(Set<String> names) {
        int resnets = 0, attentions = 0;
        for (int part : indices(names, "middle_block.")) {
            String original = "middle_block." + part + ".";
            if (hasPrefix(names, original + "in_layers.")) {
                modules.put(original, new Target("mid_block.resnets." + resnets++ + ".", Kind.RESNET));
            } else {
                modules.put(original, new Target("mid_block.attentions." + attentions++ + ".", Kind.TRANSFORMER));
            }
        }
    }

    private void mapOutputBlocks(Set<String> names) {
        int level = 0, position = 0;
        for (int block : indices(names, "output_blocks.")) {
            String original = "output_blocks." + block + ".";
            String up = "up_blocks." + level + ".";
            boolean upsamples = false;
            for (int part : indices(names, original)) {
                String sub = original + part + ".";
                if (part == 0) {
                    modules.put(sub, new Target(up + "resnets." + position + ".", Kind.RESNET));
                } else if (hasPrefix(names, sub + "conv.")) {
                    modules.put(sub + "conv.", new Target(up + "upsamplers.0.conv.", Kind.CONV));
                    upsamples = true;
                } else {
                    modules.put(sub, new Target(up + "attentions." + position + ".", Kind.TRANSFORMER));
                }
            }
            if (upsamples) {
                level++;
                position = 0;
            } else {
                position++;
            }
        }
    }

    /** How the tensor converts (a rename), or null when the name is not part of an SD UNet. */
    Conversion map(String name) {
        String target = internalName(name);
        return target == null ? null : new Conversion.Rename(target);
    }

    private String internalName(String name) {
        for (var e : TOP_LEVEL.entrySet()) {
            if (name.startsWith(e.getKey())) return leaf(e.getValue(), name.substring(e.getKey().length()));
        }
        if (!sdxl && name.equals(CLASS_EMBEDDING)) return "class_embedding.weight";
        if (sdxl) {
            for (var e : SDXL_ADDED_EMBEDDING.entrySet()) {
                if (name.startsWith(e.getKey())) return leaf(e.getValue(), name.substring(e.getKey().length()));
            }
        }
        for (var e : modules.entrySet()) {
            if (!name.startsWith(e.getKey())) continue;
            Target t = e.getValue();
            String rest = name.substring(e.getKey().length());
            return switch (t.kind) {
                case TRANSFORMER -> t.prefix + rest;
                case CONV -> leaf(t.prefix, rest);
                case RESNET -> {
                    for (var r : RESNET.entrySet()) {
                        if (rest.startsWith(r.getKey())) yield leaf(t.prefix + r.getValue(), rest.substring(r.getKey().length()));
                    }
                    yield null;
                }
            };
        }
        return null;
    }

    /** A module's parameter: only "weight" and "bias" are expected after a module prefix. */
    private static String leaf(String prefix, String rest) {
        return rest.equals("weight") || rest.equals("bias") ? prefix + rest : null;
    }

    /** The distinct numbers N of names "prefix N. ...", ascending. */
    static TreeSet<Integer> indices(Set<String> names, String prefix) {
        TreeSet<Integer> out = new TreeSet<>();
        for (String n : names) {
            if (!n.startsWith(prefix)) continue;
            int end = n.indexOf('.', prefix.length());
            if (end < 0) continue;
            String number = n.substring(prefix.length(), end);
            if (!number.isEmpty() && number.chars().allMatch(Character::isDigit) && number.length() < 9) {
                out.add(Integer.parseInt(number));
            }
        }
        return out;
    }

    static boolean hasPrefix(Set<String> names, String prefix) {
        for (String n : names) if (n.startsWith(prefix)) return true;
        return false;
    }
}
