package io.jdiffusion.model;

import java.util.List;
import java.util.function.Function;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The text encoder of an original checkpoint mapped onto transformers' CLIPTextModel names
 * ({@code text_model.embeddings.token_embedding.weight}, {@code text_model.encoder.layers.N.self_attn.q_proj.weight}, ...).
 *
 * <ul>
 * <li>SD 1.x ({@code cond_stage_model.transformer.}): the file already holds a transformers CLIPTextModel;
 *     older files lack the {@code text_model.} level, which is added.</li>
 * <li>SD 2.x ({@code cond_stage_model.model.}) and SDXL's second encoder ({@code conditioner.embedders.1.model.}):
 *     OpenCLIP's text tower. Its attention keeps q, k and v as one fused {@code in_proj} matrix, split here
 *     into three views; SDXL keeps its {@code text_projection}, transposed.</li>
 * </ul>
 */
final class ClipTextNames {
    private record Rule(Pattern pattern, Function<MatchResult, Conversion> conversion) {
    }

    /** SD 1.x, names relative to cond_stage_model.transformer. */
    static final ClipTextNames TRANSFORMERS = new ClipTextNames(List.of(
            // a buffer (0, 1, 2, ...) the encoder recomputes; often stored as int64
            rule("(text_model\\.)?embeddings\\.position_ids", m -> Conversion.DROP),
            rule("text_model\\.(embeddings|encoder|final_layer_norm)\\..*", m -> rename(m.group())),
            rule("(embeddings|encoder|final_layer_norm)\\..*", m -> rename("text_model." + m.group()))));

    /** SD 2.x, names relative to cond_stage_model.model.: the token states only, no projection. */
    static final ClipTextNames OPEN_CLIP = new ClipTextNames(openClip(false));

    /**
     * SDXL's second encoder (OpenCLIP ViT-bigG, names relative to conditioner.embedders.1.model.): SDXL also
     * reads the pooled output, so the text projection is kept, turned into a linear layer's weight.
     */
    static final ClipTextNames OPEN_CLIP_WITH_PROJECTION = new ClipTextNames(openClip(true));

    private static List<Rule> openClip(boolean keepProjection) {
        return List.of(
                rule("token_embedding\\.weight", m -> rename("text_model.embeddings.token_embedding.weight")),
                rule("positional_embedding", m -> rename("text_model.embeddings.position_embedding.weight")),
                rule("ln_final\\.(weight|bias)", m -> rename("text_model.final_layer_norm." + m.group(1))),
                rule("transformer\\.resblocks\\.(\\d+)\\.attn\\.in_proj_(weight|bias)", m -> {
                    String layer = "text_model.encoder.layers." + m.group(1) + ".self_attn.";
                    return new Conversion.SplitRows(layer + "q_proj." + m.group(2), layer + "k_proj." + m.group(2), layer + "v_proj." + m.group(2));
                }),
                rule("transformer\\.resblocks\\.(\\d+)\\.(ln_1|ln_2|attn\\.out_proj|mlp\\.c_fc|mlp\\.c_proj)\\.(weight|bias)", m -> {
                    String part = switch (m.group(2)) {
                        case "ln_1" -> "layer_norm1";
                        case "ln_2" -> "layer_norm2";
                        case "attn.out_proj" -> "self_attn.out_proj";
                        case "mlp.c_fc" -> "mlp.fc1";
                        default -> "mlp.fc2";
                    };
                    return rename("text_model.encoder.layers." + m.group(1) + "." + part + "." + m.group(3));
                }),
                // stored [hidden, projection] for x · P; a linear weight is the transpose
                rule("text_projection", m -> keepProjection ? new Conversion.Transpose("text_projection.weight") : Conversion.DROP),
                // CLIP's contrastive temperature and image tower: text-to-image uses neither
                rule("logit_scale|attn_mask|visual\\..*", m -> Conversion.DROP));
    }

    private final List<Rule> rules;

    private ClipTextNames(List<Rule> rules) {
        this.rules = rules;
    }

    /** How the tensor converts, or null when the name is not part of a CLIP text encoder. */
    Conversion map(String name) {
        for (Rule r : rules) {
            Matcher m = r.pattern.matcher(name);
            if (m.matches()) return r.conversion.apply(m);
        }
        return null;
    }

    private static Rule rule(String regex, Function<MatchResult, Conversion> conversion) {
        return new Rule(Pattern.compile(regex), conversion);
    }

    private static Conversion rename(String target) {
        return new Conversion.Rename(target);
    }
}
