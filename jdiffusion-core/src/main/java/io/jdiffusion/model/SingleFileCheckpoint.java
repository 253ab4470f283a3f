package io.jdiffusion.model;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.TensorFile;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An original-layout Stable Diffusion checkpoint (one .safetensors or .ckpt file as CompVis / Stability AI and
 * A1111 write it): tells the family from the tensor names, refuses the ones we cannot run, and splits the
 * file into its networks under their internal names.
 *
 * @param family  SD1 (OpenAI CLIP text encoder, transformers naming), SD2 (OpenCLIP text encoder) or SDXL
 *                (base: {@code conditioner.embedders.0} CLIP ViT-L, {@code conditioner.embedders.1} OpenCLIP ViT-bigG;
 *                refiner: {@code conditioner.embedders.0} OpenCLIP ViT-bigG alone)
 * @param unet    diffusers UNet names
 * @param vae     diffusers AutoencoderKL names
 * @param text    transformers CLIPTextModel names, every layer the file holds; null for the SDXL refiner
 * @param text2   SDXL's second text encoder in transformers CLIPTextModelWithProjection names; null otherwise
 */
record SingleFileCheckpoint(ModelFamily family, Weights unet, Weights vae, Weights text, Weights text2) {
    static final String UNET = "model.diffusion_model.";
    static final String VAE = "first_stage_model.";
    static final String SD1_TEXT = "cond_stage_model.transformer.";
    static final String SD2_TEXT = "cond_stage_model.model.";
    /** SDXL's text encoders live in its "conditioner", beside the parameterless size/crop embedders. */
    static final String SDXL_CONDITIONER = "conditioner.";
    static final String SDXL_TEXT = "conditioner.embedders.0.transformer.";
    static final String SDXL_TEXT_2 = "conditioner.embedders.1.model.";
    /** The SDXL refiner's one text encoder, OpenCLIP ViT-bigG (the base's second), is its first embedder. */
    static final String SDXL_REFINER_TEXT = "conditioner.embedders.0.model.";

    /** Families we recognise but do not run yet, by a tensor name prefix their files have. */
    private record Unsupported(Predicate<String> marker, String what) {
    }

    private static final List<Unsupported> UNSUPPORTED = List.of(
            new Unsupported(n -> n.startsWith("joint_blocks.") || n.startsWith(UNET + "joint_blocks."),
                    "Stable Diffusion 3.x checkpoints are not supported"),
            new Unsupported(n -> n.startsWith("double_blocks.") || n.startsWith(UNET + "double_blocks."), "Flux checkpoints are not supported"),
            new Unsupported(n -> n.startsWith("lora_unet_") || n.startsWith("lora_te"), "this is a LoRA, not a model"),
            new Unsupported(n -> n.startsWith("control_model.") || n.startsWith("controlnet_"), "ControlNet checkpoints are not supported"),
            new Unsupported(n -> n.equals("conv_in.weight") || n.startsWith("down_blocks.") || n.startsWith("encoder.down_blocks."),
                    "this is one diffusers component file, not a whole model; give the model's folder instead"));

    static SingleFileCheckpoint read(Path file) {
        TensorFile st = TensorFile.open(file);
        Set<String> names = new TreeSet<>(st.tensors().keySet());
        names.addAll(st.unreadable().keySet());

        for (Unsupported u : UNSUPPORTED) {
            for (String n : names) {
                if (u.marker.test(n)) throw new JDiffusionException(file + ": " + u.what + " (found tensor '" + n + "')");
            }
        }
        boolean hasUNet = names.stream().anyMatch(n -> n.startsWith(UNET));
        if (!hasUNet) {
            throw new JDiffusionException(file + ": unrecognised checkpoint: no Stable Diffusion UNet (" + UNET + "*) among its "
                    + names.size() + " tensors");
        }
        if (hasPrefix(names, SDXL_CONDITIONER)) return readSdxl(file, st, names);

        boolean sd1 = hasPrefix(names, SD1_TEXT);
        boolean sd2 = hasPrefix(names, SD2_TEXT);
        if (sd1 == sd2) {
            throw new JDiffusionException(file + ": unrecognised checkpoint: " + (sd1 ? "two text encoders" : "no text encoder")
                    + " (expected " + SD1_TEXT + "* for SD 1.x or " + SD2_TEXT + "* for SD 2.x)");
        }
        requireVae(file, names);
        ModelFamily family = sd1 ? ModelFamily.SD1 : ModelFamily.SD2;
        String textPrefix = sd1 ? SD1_TEXT : SD2_TEXT;
        ClipTextNames textNames = sd1 ? ClipTextNames.TRANSFORMERS : ClipTextNames.OPEN_CLIP;

        Weights unet = convert(st, family, "UNet", UNET, new LdmUNetNames(relative(names, UNET), false)::map);
        Weights vae = convert(st, family, "VAE", VAE, new LdmVaeNames(relative(names, VAE))::map);
        Weights text = convert(st, family, "text encoder", textPrefix, textNames::map);

        // Tensors outside the three networks are training state (model_ema.*, the noise schedule's betas and
        // alphas_cumprod, logvar) or extras some tools save: the model does not use them. Only another text
        // encoder part would mean a model we do not understand.
        for (String n : names) {
            if (n.startsWith("cond_stage_model.") && !n.startsWith(textPrefix)) {
                throw new JDiffusionException(file + ": unrecognised text encoder tensor '" + n + "'");
            }
        }
        return new SingleFileCheckpoint(family, unet, vae, text, null);
    }

    /** SDXL base (sgm layout): two text encoders in the conditioner, the UNet with its added embedding. */
    private static SingleFileCheckpoint readSdxl(Path file, TensorFile st, Set<String> names) {
        if (hasPrefix(names, SDXL_REFINER_TEXT)) return readSdxlRefiner(file, st, names);
        for (String prefix : new String[]{SDXL_TEXT, SDXL_TEXT_2}) {
            if (!hasPrefix(names, prefix)) {
                throw new JDiffusionException(file + ": Stable Diffusion XL checkpoint without the text encoder " + prefix
                        + "* (expected CLIP ViT-L at " + SDXL_TEXT + " and OpenCLIP ViT-bigG at " + SDXL_TEXT_2 + ")");
            }
        }
        requireVae(file, names);
        for (String n : names) {
            boolean otherText = n.startsWith("cond_stage_model.")
                    || n.startsWith(SDXL_CONDITIONER) && !n.startsWith(SDXL_TEXT) && !n.startsWith(SDXL_TEXT_2);
            if (otherText) throw new JDiffusionException(file + ": unrecognised text encoder tensor '" + n + "'");
        }
        ModelFamily family = ModelFamily.SDXL;
        Weights unet = convert(st, family, "UNet", UNET, new LdmUNetNames(relative(names, UNET), true)::map);
        Weights vae = convert(st, family, "VAE", VAE, new LdmVaeNames(relative(names, VAE))::map);
        Weights text = convert(st, family, "text encoder", SDXL_TEXT, ClipTextNames.TRANSFORMERS::map);
        Weights text2 = convert(st, family, "second text encoder", SDXL_TEXT_2, ClipTextNames.OPEN_CLIP_WITH_PROJECTION::map);
        return new SingleFileCheckpoint(family, unet, vae, text, text2);
    }

    /** SDXL refiner (sgm layout): OpenCLIP ViT-bigG with its projection as the only text encoder. */
    private static SingleFileCheckpoint readSdxlRefiner(Path file, TensorFile st, Set<String> names) {
        requireVae(file, names);
        for (String n : names) {
            boolean otherText = n.startsWith("cond_stage_model.") || n.startsWith(SDXL_CONDITIONER) && !n.startsWith(SDXL_REFINER_TEXT);
            if (otherText) throw new JDiffusionException(file + ": unrecognised text encoder tensor '" + n + "' in a Stable Diffusion XL refiner");
        }
        ModelFamily family = ModelFamily.SDXL;
        Weights unet = convert(st, family, "UNet", UNET, new LdmUNetNames(relative(names, UNET), true)::map);
        Weights vae = convert(st, family, "VAE", VAE, new LdmVaeNames(relative(names, VAE))::map);
        Weights text2 = convert(st, family, "refiner text encoder", SDXL_REFINER_TEXT, ClipTextNames.OPEN_CLIP_WITH_PROJECTION::map);
        return new SingleFileCheckpoint(family, unet, vae, null, text2);
    }

    private static void requireVae(Path file, Set<String> names) {
        if (!hasPrefix(names, VAE)) {
            throw new JDiffusionException(file + ": checkpoint has no VAE (" + VAE + "*); single files without one are not supported");
        }
    }

    private static boolean hasPrefix(Set<String> names, String prefix) {
        return LdmUNetNames.hasPrefix(names, prefix);
    }

    /** Converts every tensor under {@code prefix} by {@code naming}; a name it does not know is refused. */
    static Weights convert(TensorFile st, ModelFamily family, String network, String prefix,
                           Function<String, Conversion> naming) {
        Path file = st.path();
        Map<String, Weight> out = new TreeMap<>();
        Map<String, String> origin = new LinkedHashMap<>();
        Set<String> names = new TreeSet<>(st.tensors().keySet());
        names.addAll(st.unreadable().keySet());
        for (String name : names) {
            if (!name.startsWith(prefix)) continue;
            Conversion c = naming.apply(name.substring(prefix.length()));
            if (c == null) {
                throw new JDiffusionException(file + ": tensor '" + name + "' is not part of a " + family.displayName + " "
                        + network + " (unsupported model variant)");
            }
            if (c instanceof Conversion.Drop) continue;
            Weight w = st.get(name); // refuses a dtype we cannot compute with, naming the tensor
            Map<String, Weight> converted = new TreeMap<>();
            try {
                c.apply(w, converted);
            } catch (IllegalArgumentException e) {
                throw new JDiffusionException(file + ": tensor '" + name + "' has shape " + w.shapeString() + ", which does not fit its role");
            }
            for (var e : converted.entrySet()) {
                String previous = origin.put(e.getKey(), name);
                if (previous != null) {
                    throw new JDiffusionException(file + ": tensors '" + previous + "' and '" + name + "' both map to " + network
                            + " tensor '" + e.getKey() + "'");
                }
                out.put(e.getKey(), e.getValue());
            }
        }
        return new Weights(out, file.toString());
    }

    static Set<String> relative(Set<String> names, String prefix) {
        Set<String> out = new TreeSet<>();
        for (String n : names) if (n.startsWith(prefix)) out.add(n.substring(prefix.length()));
        return out;
    }

    private static final Pattern LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d{1,8})\\..*");

    /** The text weights without the layers the model does not run (SD 2.x files hold one more). */
    Weights textLayersBelow(int layers) {
        if (text == null) return null;
        Map<String, Weight> kept = new TreeMap<>();
        for (String n : text.names()) {
            Matcher m = LAYER.matcher(n);
            if (m.matches() && Integer.parseInt(m.group(1)) >= layers) continue;
            kept.put(n, text.get(n));
        }
        return new Weights(kept, text.source());
    }
}
