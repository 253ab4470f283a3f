package io.jdiffusion.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.TensorFile;
import io.jdiffusion.sampling.SchedulerConfig;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Opens a model as the user names it: a diffusers folder ({@code model_index.json} with unet/, vae/,
 * text_encoder/, tokenizer/, scheduler/; SDXL adds text_encoder_2/ and tokenizer_2/, and the SDXL refiner has
 * only those two) or a single
 * original-layout checkpoint file (.safetensors, or a PyTorch .ckpt read without running its pickle:
 * {@link io.jdiffusion.io.TorchCheckpoint}).
 * Either way the result is the same: each network's weights under the internal (diffusers/transformers)
 * names, its config, the tokenizer's pad token and the scheduler config.
 *
 * <p>A single file carries no configs: its architecture is inferred from the weights
 * ({@link ArchitectureInference}), the scheduler is the published SD one and the prediction type epsilon.
 * A config folder ({@code --config DIR}: any of unet/config.json, vae/config.json, text_encoder/config.json,
 * scheduler/scheduler_config.json, tokenizer/tokenizer_config.json, text_encoder_2/config.json,
 * tokenizer_2/tokenizer_config.json, model_index.json) overrides what the weights imply, as
 * diffusers' {@code from_single_file(config=...)} does. Whatever the source of the config, the weights
 * are checked against it ({@link RequiredTensors}) before anything runs.
 */
public final class ModelLoader {
    private static final String SD1_PAD = "<|endoftext|>";
    private static final String SD2_PAD = "!";
    /** The SDXL pipeline config key (model_index.json) that makes an empty negative prompt zeros. */
    private static final String FORCE_ZEROS = "force_zeros_for_empty_prompt";

    private ModelLoader() {
    }

    public static StableDiffusionModel load(Path model) {
        return load(model, null);
    }

    /**
     * @param model     a diffusers folder or a .safetensors checkpoint
     * @param configDir null, or a folder of component configs that override the model's own (or inferred) ones
     */
    public static StableDiffusionModel load(Path model, Path configDir) {
        if (model == null) throw new JDiffusionException("no model given");
        if (!Files.exists(model)) throw new JDiffusionException(model + ": no such file or directory");
        ConfigOverrides overrides = configDir == null ? ConfigOverrides.NONE : ConfigOverrides.read(configDir);
        if (Files.isDirectory(model)) return loadDiffusersFolder(model, overrides);
        return loadFile(model, overrides);
    }

    // ---------------------------------------------------------------- single files

    private static StableDiffusionModel loadFile(Path file, ConfigOverrides overrides) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        // .ckpt/.pt/.bin: PyTorch checkpoints, read through the allow-list unpickler (TorchCheckpoint)
        if (name.endsWith(".safetensors") || TensorFile.looksLikeWeights(file)) return loadSingleFile(file, overrides);
        if (name.endsWith(".gguf")) throw new JDiffusionException(file + ": GGUF files are not supported; use a .safetensors checkpoint");
        throw new JDiffusionException(file + ": not a model: expected a .safetensors or .ckpt checkpoint or a diffusers folder");
    }

    private static StableDiffusionModel loadSingleFile(Path file, ConfigOverrides overrides) {
        SingleFileCheckpoint ckpt = SingleFileCheckpoint.read(file);
        ModelFamily family = ckpt.family();

        // SDXL's second encoder comes first: its projection width sizes the UNet's added embedding
        TextEncoderSpec text2 = null;
        if (ckpt.text2() != null) {
            ClipTextConfig config2 = overrides.text2 != null ? ClipTextConfig.fromTransformers(overrides.text2)
                    : ArchitectureInference.sdxlSecondText(ckpt.text2());
            RequiredTensors.checkText(ckpt.text2(), config2);
            String pad2 = overrides.tokenizer2 != null ? padToken(overrides.tokenizer2, SD2_PAD) : SD2_PAD;
            text2 = new TextEncoderSpec(config2, ckpt.text2(), pad2);
        }

        // the SDXL refiner has no first encoder: its UNet's time ids are the original size, the crop and an aesthetic score
        boolean refiner = ckpt.text() == null;
        UNetConfig unetConfig = overrides.unet != null ? UNetConfig.fromDiffusers(overrides.unet)
                : ArchitectureInference.unet(ckpt.unet(), family, text2 == null ? 0 : text2.config().projectionDim(),
                refiner ? ArchitectureInference.SDXL_REFINER_TIME_IDS : ArchitectureInference.SDXL_TIME_IDS);
        boolean upscaler = unetConfig.numClassEmbeds() > 0; // the x4 upscaler: its own VAE scale and scheduler
        VaeConfig vaeConfig = overrides.vae != null ? VaeConfig.fromDiffusers(overrides.vae)
                : ArchitectureInference.vae(ckpt.vae(), family, upscaler);
        RequiredTensors.checkUNet(ckpt.unet(), unetConfig);
        RequiredTensors.checkVae(ckpt.vae(), vaeConfig);

        TextEncoderSpec text = null;
        if (!refiner) {
            ClipTextConfig textConfig = overrides.text != null ? ClipTextConfig.fromTransformers(overrides.text)
                    : ArchitectureInference.clipText(ckpt.text(), family);
            Weights textWeights = ckpt.textLayersBelow(textConfig.numLayers());
            RequiredTensors.checkText(textWeights, textConfig);
            String pad = overrides.tokenizer != null ? padToken(overrides.tokenizer, defaultPad(family)) : defaultPad(family);
            text = new TextEncoderSpec(textConfig, textWeights, pad);
        }

        SchedulerConfig scheduler = overrides.scheduler != null ? SchedulerConfig.fromJson(overrides.scheduler)
                : upscaler ? UpscalerConfig.publishedScheduler() : defaultScheduler(family);
        // SDXL base's published pipeline config zeroes an empty negative prompt; the refiner's encodes it
        boolean forceZeros = text2 != null && (overrides.pipeline == null ? !refiner
                : Json.boolOr(overrides.pipeline, FORCE_ZEROS, true));
        return new StableDiffusionModel(file.toString(), StableDiffusionModel.SINGLE_FILE, family,
                text, unetConfig, ckpt.unet(), vaeConfig, ckpt.vae(), scheduler, text2, forceZeros);
    }

    /**
     * The family's published scheduler config, for single files that carry none: SDXL's is SD's with
     * "leading" timestep spacing.
     */
    private static SchedulerConfig defaultScheduler(ModelFamily family) {
        SchedulerConfig sd = SchedulerConfig.stableDiffusionDefault();
        return family == ModelFamily.SDXL ? sd.with("timestep_spacing", "leading") : sd;
    }

    private static String defaultPad(ModelFamily family) {
        return family == ModelFamily.SD2 ? SD2_PAD : SD1_PAD;
    }

    // ---------------------------------------------------------------- diffusers folders

    static StableDiffusionModel loadDiffusersFolder(Path dir, ConfigOverrides overrides) {
        Path index = dir.resolve("model_index.json");
        if (!Files.isRegularFile(index)) {
            throw new JDiffusionException(dir + ": not a diffusers model folder (no model_index.json)");
        }
        JsonNode modelIndex = Json.read(index);
        String pipeline = Json.textOr(modelIndex, "_class_name", "an unnamed pipeline");
        if (!modelIndex.has("unet") || modelIndex.has("transformer")) {
            throw new JDiffusionException(dir + ": " + pipeline + " is not supported: only Stable Diffusion 1.x/2.x/XL pipelines (with a UNet) are");
        }
        boolean sdxl = Files.isDirectory(dir.resolve("text_encoder_2")) || componentNamed(modelIndex, "text_encoder_2");
        // the SDXL refiner conditions on the second encoder alone (text_encoder and tokenizer are [null, null])
        boolean refiner = sdxl && !Files.isDirectory(dir.resolve("text_encoder")) && !componentNamed(modelIndex, "text_encoder");
        String[] components = refiner ? new String[]{"unet", "vae", "text_encoder_2"}
                : sdxl ? new String[]{"unet", "vae", "text_encoder", "text_encoder_2"} : new String[]{"unet", "vae", "text_encoder"};
        for (String component : components) {
            if (!Files.isDirectory(dir.resolve(component))) {
                throw new JDiffusionException(dir + ": missing component folder '" + component + "'");
            }
        }

        UNetConfig unetConfig = UNetConfig.fromDiffusers(overrides.unet != null ? overrides.unet : Json.read(dir.resolve("unet/config.json")));
        VaeConfig vaeConfig = VaeConfig.fromDiffusers(overrides.vae != null ? overrides.vae : Json.read(dir.resolve("vae/config.json")));
        SchedulerConfig scheduler = SchedulerConfig.fromJson(overrides.scheduler != null ? overrides.scheduler
                : Json.read(dir.resolve("scheduler/scheduler_config.json")));
        ClipTextConfig textConfig = refiner ? null : ClipTextConfig.fromTransformers(overrides.text != null ? overrides.text
                : Json.read(dir.resolve("text_encoder/config.json")));
        // OpenAI CLIP (SD 1.x, and SDXL's first encoder) uses quick_gelu; OpenCLIP (SD 2.x) plain gelu
        ModelFamily family = sdxl ? ModelFamily.SDXL : textConfig.hiddenAct().equals("gelu") ? ModelFamily.SD2 : ModelFamily.SD1;

        TensorFile unetFile = componentWeights(dir.resolve("unet"), "diffusion_pytorch_model");
        TensorFile vaeFile = componentWeights(dir.resolve("vae"), "diffusion_pytorch_model");
        Weights unet = readable(unetFile, RequiredTensors.unet(unetConfig));
        Weights vae = withCurrentVaeAttentionNames(readable(vaeFile, RequiredTensors.vae(vaeConfig)));
        RequiredTensors.checkUNet(unet, unetConfig);
        RequiredTensors.checkVae(vae, vaeConfig);
        TextEncoderSpec text = refiner ? null
                : folderTextEncoder(dir, "text_encoder", textConfig, "tokenizer", overrides.tokenizer, defaultPad(family));

        TextEncoderSpec text2 = null;
        if (sdxl) {
            ClipTextConfig config2 = ClipTextConfig.fromTransformers(overrides.text2 != null ? overrides.text2
                    : Json.read(dir.resolve("text_encoder_2/config.json")));
            if (config2.projectionDim() <= 0) {
                throw new JDiffusionException(dir.resolve("text_encoder_2") + ": SDXL's second text encoder needs its projection"
                        + " (a CLIPTextModelWithProjection config with projection_dim)");
            }
            text2 = folderTextEncoder(dir, "text_encoder_2", config2, "tokenizer_2", overrides.tokenizer2, SD2_PAD);
        }
        boolean forceZeros = sdxl && Json.boolOr(overrides.pipeline != null ? overrides.pipeline : modelIndex, FORCE_ZEROS, true);

        return new StableDiffusionModel(dir.toString(), StableDiffusionModel.DIFFUSERS_FOLDER, family,
                text, unetConfig, unet, vaeConfig, vae, scheduler, text2, forceZeros);
    }

    /** model_index.json names a component with [library, class]; an absent one is [null, null] or missing. */
    private static boolean componentNamed(JsonNode modelIndex, String component) {
        JsonNode entry = modelIndex.get(component);
        return entry != null && entry.isArray() && entry.size() == 2 && !entry.get(1).isNull();
    }

    /** A text encoder folder's weights, checked against its config, with its tokenizer's pad token. */
    private static TextEncoderSpec folderTextEncoder(Path dir, String component, ClipTextConfig config, String tokenizerComponent,
                                                     JsonNode tokenizerOverride, String defaultPad) {
        Weights weights = withTextModelPrefix(readable(componentWeights(dir.resolve(component), "model"),
                RequiredTensors.clipText(config)));
        RequiredTensors.checkText(weights, config);
        JsonNode tokenizer = tokenizerOverride;
        Path tokenizerConfig = dir.resolve(tokenizerComponent).resolve("tokenizer_config.json");
        if (tokenizer == null && Files.isRegularFile(tokenizerConfig)) tokenizer = Json.read(tokenizerConfig);
        String pad = tokenizer != null ? padToken(tokenizer, defaultPad) : defaultPad;
        return new TextEncoderSpec(config, weights, pad);
    }

    /**
     * The component's weights file: {@code <name>.safetensors}, or its fp16 variant when only that exists,
     * or else the PyTorch {@code <name>.bin} older folders have (read through the allow-list unpickler).
     */
    static TensorFile componentWeights(Path componentDir, String baseName) {
        for (String candidate : new String[]{baseName + ".safetensors", baseName + ".fp16.safetensors",
                baseName + ".bin", baseName + ".fp16.bin"}) {
            Path p = componentDir.resolve(candidate);
            if (Files.isRegularFile(p)) return TensorFile.open(p);
        }
        throw new JDiffusionException(componentDir + ": no " + baseName + ".safetensors");
    }

    /** The file's tensors; a required one stored in a dtype we cannot compute with is refused by name. */
    private static Weights readable(TensorFile file, Set<String> required) {
        for (String name : file.unreadable().keySet()) {
            if (required.contains(name)) file.get(name); // throws, naming the tensor and its dtype
        }
        return new Weights(file.tensors(), file.path().toString());
    }

    /**
     * transformers 5 saves a {@code CLIPTextModel} without its {@code text_model.} prefix
     * ({@code embeddings.token_embedding.weight}); the encoder is the same, so the names get the prefix back.
     * ({@code CLIPTextModelWithProjection} keeps it, and its {@code text_projection} has none either way.)
     */
    static Weights withTextModelPrefix(Weights text) {
        String prefix = "text_model.";
        if (text.has(prefix + "embeddings.token_embedding.weight") || !text.has("embeddings.token_embedding.weight")) return text;
        Map<String, Weight> out = new TreeMap<>();
        for (String name : text.names()) {
            Weight w = text.get(name);
            boolean inTextModel = !name.startsWith(prefix) && !name.equals("text_projection.weight");
            out.put(inTextModel ? prefix + name : name, inTextModel ? w.reshape(prefix + name, w.shape()) : w);
        }
        return new Weights(out, text.source());
    }

    /** diffusers before 0.14 named the VAE attention query/key/value/proj_attn; folders saved then still do. */
    static Weights withCurrentVaeAttentionNames(Weights vae) {
        Map<String, String> renames = Map.of(".query.", ".to_q.", ".key.", ".to_k.", ".value.", ".to_v.", ".proj_attn.", ".to_out.0.");
        Map<String, Weight> out = new TreeMap<>();
        boolean changed = false;
        for (String name : vae.names()) {
            String target = name;
            if (name.contains(".mid_block.attentions.")) {
                for (var r : renames.entrySet()) target = target.replace(r.getKey(), r.getValue());
            }
            Weight w = vae.get(name);
            if (!target.equals(name)) {
                changed = true;
                long[] s = w.shape();
                boolean conv1x1 = s.length == 4 && s[2] == 1 && s[3] == 1;
                w = conv1x1 ? w.reshape(target, s[0], s[1]) : w.reshape(target, s);
            }
            out.put(target, w);
        }
        return changed ? new Weights(out, vae.source()) : vae;
    }

    // ---------------------------------------------------------------- configs

    /** tokenizer_config.json's pad_token: a string, or an AddedToken object with "content". */
    private static String padToken(JsonNode tokenizerConfig, String dflt) {
        JsonNode pad = tokenizerConfig.get("pad_token");
        if (pad == null || pad.isNull()) return dflt;
        if (pad.isObject()) return Json.textOr(pad, "content", dflt);
        return pad.asText();
    }

    /** Component configs given with --config; each null when that file is absent. */
    record ConfigOverrides(JsonNode unet, JsonNode vae, JsonNode text, JsonNode scheduler, JsonNode tokenizer,
                           JsonNode text2, JsonNode tokenizer2, JsonNode pipeline) {
        static final ConfigOverrides NONE = new ConfigOverrides(null, null, null, null, null, null, null, null);
        private static final String[] FILES = {"unet/config.json", "vae/config.json", "text_encoder/config.json",
                "scheduler/scheduler_config.json", "tokenizer/tokenizer_config.json",
                "text_encoder_2/config.json", "tokenizer_2/tokenizer_config.json", "model_index.json"};

        static ConfigOverrides read(Path dir) {
            if (!Files.isDirectory(dir)) throw new JDiffusionException(dir + ": config folder not found");
            JsonNode[] found = new JsonNode[FILES.length];
            boolean any = false;
            for (int i = 0; i < FILES.length; i++) {
                Path p = dir.resolve(FILES[i]);
                if (Files.isRegularFile(p)) {
                    found[i] = Json.read(p);
                    any = true;
                }
            }
            if (!any) throw new JDiffusionException(dir + ": holds none of " + String.join(", ", Arrays.asList(FILES)));
            return new ConfigOverrides(found[0], found[1], found[2], found[3], found[4], found[5], found[6], found[7]);
        }
    }
}
