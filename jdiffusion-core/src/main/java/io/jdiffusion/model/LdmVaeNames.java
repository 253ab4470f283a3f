package io.jdiffusion.model;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The VAE of an original checkpoint, names relative to {@code first_stage_model.}, mapped onto diffusers'
 * AutoencoderKL names. The original's decoder numbers its up levels from the bottom (up.0 is the last to
 * run, at full resolution); diffusers numbers them in the order they run, so up.I becomes
 * up_blocks.(levels − 1 − I). The mid-block attention's q/k/v/proj_out are 1×1 convolutions in the
 * original and linear layers in diffusers: same numbers, seen as [C, C].
 */
final class LdmVaeNames {
    private record Rule(Pattern pattern, Function<MatchResult, Conversion> conversion) {
    }

    private final int decoderLevels;
    private final List<Rule> rules;

    /** @param names every VAE tensor name of the file, relative to first_stage_model. */
    LdmVaeNames(Set<String> names) {
        decoderLevels = LdmUNetNames.indices(names, "decoder.up.").size();
        rules = List.of(
                rule("(encoder|decoder)\\.(conv_in|conv_out)\\.(weight|bias)", m -> rename(m.group())),
                rule("(encoder|decoder)\\.norm_out\\.(weight|bias)", m -> rename(m.group(1) + ".conv_norm_out." + m.group(2))),
                rule("(quant_conv|post_quant_conv)\\.(weight|bias)", m -> rename(m.group())),
                rule("encoder\\.down\\.(\\d+)\\.block\\.(\\d+)\\.(\\w+)\\.(weight|bias)",
                        m -> resnet("encoder.down_blocks." + m.group(1) + ".resnets." + m.group(2) + ".", m.group(3), m.group(4))),
                rule("encoder\\.down\\.(\\d+)\\.downsample\\.conv\\.(weight|bias)",
                        m -> rename("encoder.down_blocks." + m.group(1) + ".downsamplers.0.conv." + m.group(2))),
                rule("decoder\\.up\\.(\\d+)\\.block\\.(\\d+)\\.(\\w+)\\.(weight|bias)",
                        m -> resnet("decoder.up_blocks." + upBlock(m.group(1)) + ".resnets." + m.group(2) + ".", m.group(3), m.group(4))),
                rule("decoder\\.up\\.(\\d+)\\.upsample\\.conv\\.(weight|bias)",
                        m -> rename("decoder.up_blocks." + upBlock(m.group(1)) + ".upsamplers.0.conv." + m.group(2))),
                rule("(encoder|decoder)\\.mid\\.block_([12])\\.(\\w+)\\.(weight|bias)",
                        m -> resnet(m.group(1) + ".mid_block.resnets." + (Integer.parseInt(m.group(2)) - 1) + ".", m.group(3), m.group(4))),
                rule("(encoder|decoder)\\.mid\\.attn_1\\.(\\w+)\\.(weight|bias)",
                        m -> attention(m.group(1) + ".mid_block.attentions.0.", m.group(2), m.group(3))),
                // the training loss (LPIPS, discriminator) that some checkpoints carry along
                rule("loss\\..*", m -> Conversion.DROP));
    }

    private static final Map<String, String> RESNET = Map.of(
            "norm1", "norm1", "conv1", "conv1", "norm2", "norm2", "conv2", "conv2", "nin_shortcut", "conv_shortcut");

    private static final Map<String, String> ATTENTION = Map.of(
            "norm", "group_norm", "q", "to_q", "k", "to_k", "v", "to_v", "proj_out", "to_out.0");

    /** How the tensor converts, or null when the name is not part of an SD VAE. */
    Conversion map(String name) {
        for (Rule r : rules) {
            Matcher m = r.pattern.matcher(name);
            if (m.matches()) return r.conversion.apply(m);
        }
        return null;
    }

    private int upBlock(String originalIndex) {
        return decoderLevels - 1 - Integer.parseInt(originalIndex);
    }

    private static Rule rule(String regex, Function<MatchResult, Conversion> conversion) {
        return new Rule(Pattern.compile(regex), conversion);
    }

    private static Conversion rename(String target) {
        return new Conversion.Rename(target);
    }

    private static Conversion resnet(String prefix, String part, String leaf) {
        String renamed = RESNET.get(part);
        return renamed == null ? null : rename(prefix + renamed + "." + leaf);
    }

    private static Conversion attention(String prefix, String part, String leaf) {
        String renamed = ATTENTION.get(part);
        if (renamed == null) return null;
        String target = prefix + renamed + "." + leaf;
        return leaf.equals("weight") && !part.equals("norm") ? new Conversion.ConvToLinear(target) : rename(target);
    }
}
