package io.jdiffusion.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.sampling.SchedulerConfig;
import io.jdiffusion.tensor.Weights;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a model as the user names it: a diffusers folder ({@code model_index.json} with unet/, vae/,
 * text_encoder/, tokenizer/, scheduler/) or a single original-layout checkpoint file.
 */
public final class ModelLoader {
    private ModelLoader() {
    }

    public static StableDiffusionModel load(Path path) {
        if (!Files.exists(path)) throw new JDiffusionException(path + ": no such file or directory");
        if (Files.isDirectory(path)) return loadDiffusersFolder(path);
        throw new JDiffusionException(path + ": single-file checkpoints are not supported yet");
    }

    static StableDiffusionModel loadDiffusersFolder(Path dir) {
        if (!Files.isRegularFile(dir.resolve("model_index.json"))) {
            throw new JDiffusionException(dir + ": not a diffusers model folder (no model_index.json)");
        }
        Weights unet = folderWeights(dir.resolve("unet"), "diffusion_pytorch_model");
        Weights vae = folderWeights(dir.resolve("vae"), "diffusion_pytorch_model");
        Weights text = folderWeights(dir.resolve("text_encoder"), "model");
        UNetConfig unetConfig = UNetConfig.fromDiffusers(Json.read(dir.resolve("unet/config.json")));
        VaeConfig vaeConfig = VaeConfig.fromDiffusers(Json.read(dir.resolve("vae/config.json")));
        ClipTextConfig textConfig = ClipTextConfig.fromTransformers(Json.read(dir.resolve("text_encoder/config.json")));
        JsonNode tok = Json.read(dir.resolve("tokenizer/tokenizer_config.json"));
        String pad = Json.textOr(tok, "pad_token", "<|endoftext|>");
        SchedulerConfig sched = SchedulerConfig.fromJson(Json.read(dir.resolve("scheduler/scheduler_config.json")));
        ModelFamily family = textConfig.hiddenAct().equals("gelu") ? ModelFamily.SD2 : ModelFamily.SD1;
        return new StableDiffusionModel(dir.toString(), "diffusers folder", family,
                new TextEncoderSpec(textConfig, text, pad), unetConfig, unet, vaeConfig, vae, sched);
    }

    /** The component's weights file: {@code <name>.safetensors}, preferring an fp16 variant when only it exists. */
    static Weights folderWeights(Path componentDir, String baseName) {
        for (String candidate : new String[]{baseName + ".safetensors", baseName + ".fp16.safetensors"}) {
            Path p = componentDir.resolve(candidate);
            if (Files.isRegularFile(p)) {
                return new Weights(SafeTensors.open(p).tensors(), p.toString());
            }
        }
        throw new JDiffusionException(componentDir + ": no " + baseName + ".safetensors");
    }
}
