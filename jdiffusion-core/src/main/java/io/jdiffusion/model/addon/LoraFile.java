package io.jdiffusion.model.addon;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.TensorFile;
import io.jdiffusion.model.Json;
import io.jdiffusion.tensor.Weight;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A LoRA file, read into its adapted layers. Each layer W of the model gets {@code W + scale · up · down}
 * with {@code down} [rank, in] and {@code up} [out, rank] (4-D for convolutions, flattened to those
 * matrices), {@code scale = weight × alpha / rank} as kohya defines it (alpha = rank when the file has none).
 *
 * <p>Key layouts read:
 * <ul>
 * <li>kohya / A1111: {@code lora_unet_<module>}, {@code lora_te_<module>} (SDXL: {@code lora_te1_}, {@code lora_te2_})
 *     + {@code .lora_down.weight}, {@code .lora_up.weight}, {@code .alpha}; the module is the diffusers /
 *     transformers module path with dots written as underscores, resolved against the model's own names.</li>
 * <li>diffusers / PEFT: {@code unet.<module>}, {@code text_encoder.<module>}, {@code text_encoder_2.<module>}
 *     (or a bare UNet module path, or {@code base_model.model.<module>}) + {@code .lora_A.weight} /
 *     {@code .lora_B.weight}, {@code .lora.down.weight} / {@code .lora.up.weight},
 *     {@code .lora_linear_layer.down/up.weight}, or the older attention-processor keys
 *     {@code <attention>.processor.to_q_lora.down.weight}; an optional {@code <module>.alpha}, or
 *     {@code lora_alpha} and {@code r} from an {@code adapter_config.json} beside the file.</li>
 * </ul>
 * LyCORIS formats (LoHa, LoKr, Tucker-decomposed LoCon, DoRA, full diffs) are recognised and refused by name.
 *
 * @param trainedFor kohya's {@code ss_base_model_version} metadata when present (sd_v1, sd_v2, sdxl_base_v1-0), for messages
 */
public record LoraFile(Path path, String trainedFor, List<Module> modules) {

    /** The network a LoRA module adapts. */
    public enum Network {
        UNET("UNet"), TEXT_ENCODER("text encoder"), TEXT_ENCODER_2("second text encoder (SDXL)");

        public final String displayName;

        Network(String displayName) {
            this.displayName = displayName;
        }
    }

    /**
     * One adapted layer.
     *
     * @param key       the module's key prefix in the file, for messages
     * @param name      the module path: dotted (diffusers) or with underscores for dots (kohya, {@code underscored})
     * @param alpha     the file's alpha, or null (then alpha = rank: scale = weight)
     */
    public record Module(String key, Network network, String name, boolean underscored, Weight down, Weight up, Float alpha) {
        public int rank() {
            return down.dim(0);
        }

        /** kohya's scale: weight × alpha / rank. */
        public double scale(double weight) {
            return alpha == null ? weight : weight * alpha / rank();
        }
    }

    private enum Role { DOWN, UP, ALPHA }

    private record KeyPart(String module, Role role) {
    }

    /** Suffixes of the key layouts, each giving the role of the tensor. */
    private static final List<Map.Entry<String, Role>> SUFFIXES = List.of(
            Map.entry(".lora_down.weight", Role.DOWN), Map.entry(".lora_up.weight", Role.UP),
            Map.entry(".lora_A.weight", Role.DOWN), Map.entry(".lora_B.weight", Role.UP),
            Map.entry(".lora.down.weight", Role.DOWN), Map.entry(".lora.up.weight", Role.UP),
            Map.entry(".lora_linear_layer.down.weight", Role.DOWN), Map.entry(".lora_linear_layer.up.weight", Role.UP),
            Map.entry(".alpha", Role.ALPHA));

    /** diffusers' older attention processors: {@code <attention>.processor.to_q_lora.down.weight}. */
    private static final Pattern PROCESSOR = Pattern.compile("(.*)\\.processor\\.(to_q|to_k|to_v|to_out)_lora\\.(down|up)\\.weight");

    /** Key fragments of LoRA-like formats we do not apply, and what they are. */
    private static final List<Map.Entry<String, String>> UNSUPPORTED = List.of(
            Map.entry("hada_w1", "LyCORIS LoHa"), Map.entry("lokr_w1", "LyCORIS LoKr"),
            Map.entry(".lora_mid.", "LyCORIS LoCon with Tucker decomposition"), Map.entry("dora_scale", "DoRA"),
            Map.entry(".diff", "LyCORIS full-difference"), Map.entry(".oft_", "OFT"));

    /** Reads the file (safetensors or a PyTorch .pt, by content) and groups its tensors into modules. */
    public static LoraFile read(Path file) {
        if (!Files.isRegularFile(file)) throw new JDiffusionException(file + ": no such LoRA file");
        TensorFile tf = TensorFile.open(file);
        String trainedFor = tf instanceof SafeTensors st ? st.metadata().get("ss_base_model_version") : null;
        TreeSet<String> names = new TreeSet<>(tf.tensors().keySet());
        names.addAll(tf.unreadable().keySet());
        if (names.isEmpty()) throw new JDiffusionException(file + ": holds no tensors, so it is no LoRA");
        if (names.stream().anyMatch(n -> n.startsWith("model.diffusion_model.") || n.startsWith("first_stage_model."))) {
            throw new JDiffusionException(file + ": is a whole checkpoint, not a LoRA (use it as --model)");
        }
        for (String n : names) {
            for (var u : UNSUPPORTED) {
                if (n.contains(u.getKey())) throw new JDiffusionException(file + ": is a " + u.getValue() + " network (tensor '" + n
                        + "'); only LoRA (lora_down/lora_up) files are supported");
            }
        }

        Map<String, Weight[]> parts = new TreeMap<>(); // module key → {down, up, alpha}
        for (String n : names) {
            KeyPart kp = split(n);
            if (kp == null) throw new JDiffusionException(file + ": tensor '" + n + "' is not part of a LoRA (unknown key layout)");
            Weight w = tf.get(n); // refuses a dtype we cannot read, naming the tensor
            Weight[] slot = parts.computeIfAbsent(kp.module(), k -> new Weight[3]);
            if (slot[kp.role().ordinal()] != null) throw new JDiffusionException(file + ": two tensors for '" + n + "'");
            slot[kp.role().ordinal()] = w;
        }

        Float configAlpha = peftAlpha(file);
        List<Module> modules = new ArrayList<>();
        for (var e : parts.entrySet()) {
            String key = e.getKey();
            Weight down = e.getValue()[0], up = e.getValue()[1], alpha = e.getValue()[2];
            if (down == null || up == null) {
                if (down == null && up == null) continue; // an alpha for a module the file does not adapt
                throw new JDiffusionException(file + ": module '" + key + "' has " + (down == null ? "no down (A)" : "no up (B)") + " matrix");
            }
            checkPair(file, key, down, up);
            if (alpha != null && alpha.numel() != 1) throw new JDiffusionException(file + ": alpha of '" + key + "' is not one number");
            Float a = alpha != null ? Float.valueOf(alpha.get(0)) : configAlpha;
            modules.add(module(file, key, down, up, a));
        }
        if (modules.isEmpty()) throw new JDiffusionException(file + ": holds no LoRA modules");
        return new LoraFile(file, trainedFor, List.copyOf(modules));
    }

    private static KeyPart split(String name) {
        Matcher m = PROCESSOR.matcher(name);
        if (m.matches()) {
            String proj = m.group(2).equals("to_out") ? "to_out.0" : m.group(2);
            return new KeyPart(m.group(1) + "." + proj, m.group(3).equals("down") ? Role.DOWN : Role.UP);
        }
        for (var s : SUFFIXES) {
            if (name.endsWith(s.getKey()) && name.length() > s.getKey().length()) {
                return new KeyPart(name.substring(0, name.length() - s.getKey().length()), s.getValue());
            }
        }
        return null;
    }

    /** down [rank, in(, kh, kw)] and up [out, rank(, 1, 1)]. */
    private static void checkPair(Path file, String key, Weight down, Weight up) {
        boolean shapes = (down.rank() == 2 || down.rank() == 4) && (up.rank() == 2 || up.rank() == 4)
                && up.dim(1) == down.dim(0) && (up.rank() == 2 || up.dim(2) == 1 && up.dim(3) == 1);
        if (!shapes) {
            throw new JDiffusionException(file + ": module '" + key + "' has down " + down.shapeString() + " and up " + up.shapeString()
                    + ", which are no LoRA pair");
        }
    }

    private static Module module(Path file, String key, Weight down, Weight up, Float alpha) {
        if (key.startsWith("lora_unet_")) return new Module(key, Network.UNET, key.substring(10), true, down, up, alpha);
        if (key.startsWith("lora_te1_")) return new Module(key, Network.TEXT_ENCODER, key.substring(9), true, down, up, alpha);
        if (key.startsWith("lora_te2_")) return new Module(key, Network.TEXT_ENCODER_2, key.substring(9), true, down, up, alpha);
        if (key.startsWith("lora_te_")) return new Module(key, Network.TEXT_ENCODER, key.substring(8), true, down, up, alpha);
        if (key.startsWith("unet.")) return new Module(key, Network.UNET, key.substring(5), false, down, up, alpha);
        if (key.startsWith("text_encoder_2.")) return new Module(key, Network.TEXT_ENCODER_2, key.substring(15), false, down, up, alpha);
        if (key.startsWith("text_encoder.")) return new Module(key, Network.TEXT_ENCODER, key.substring(13), false, down, up, alpha);
        String bare = key.startsWith("base_model.model.") ? key.substring(17) : key;
        if (bare.startsWith("text_model.")) return new Module(key, Network.TEXT_ENCODER, bare, false, down, up, alpha);
        if (bare.matches("(down_blocks|mid_block|up_blocks|conv_in|conv_out|time_embedding|add_embedding)\\b.*")) {
            return new Module(key, Network.UNET, bare, false, down, up, alpha);
        }
        String what = key.startsWith("transformer.") || key.startsWith("lora_transformer_") || key.contains("double_blocks")
                || key.contains("joint_blocks") ? "a diffusion-transformer model (Flux, SD3)" : "an unknown architecture";
        throw new JDiffusionException(file + ": module '" + key + "' is for " + what + ", not for a Stable Diffusion UNet or text encoder");
    }

    /**
     * PEFT keeps alpha outside the weights: {@code lora_alpha} in an {@code adapter_config.json} beside the
     * file (its {@code r} is the rank of the matrices, so alpha / rank is the config's lora_alpha / r).
     */
    private static Float peftAlpha(Path file) {
        Path config = file.resolveSibling("adapter_config.json");
        if (!Files.isRegularFile(config)) return null;
        JsonNode alpha = Json.read(config).get("lora_alpha");
        return alpha != null && alpha.isNumber() ? (float) alpha.asDouble() : null;
    }
}
