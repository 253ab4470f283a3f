package io.jdiffusion.testing;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.model.Json;
import io.jdiffusion.tensor.Weight;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes an SD 2.x diffusers folder (the x4 upscaler's included) as the single original-layout file Stability AI
 * publishes (the ldm layout): {@code model.diffusion_model.*} (a class embedding as {@code label_emb.weight}),
 * {@code first_stage_model.*}, and the OpenCLIP text tower under {@code cond_stage_model.model.}, which in those
 * files holds one more block than the model reads (it takes the penultimate block's output): that block is
 * written as a copy of the last used one. Built on {@link SdxlOriginalLayout}'s rules, written independently of
 * the loader's.
 */
public final class Sd2OriginalLayout {
    private Sd2OriginalLayout() {
    }

    public static void write(Path diffusersDir, Path file) {
        Map<String, Weight> out = new LinkedHashMap<>();
        JsonNode unetConfig = Json.read(diffusersDir.resolve("unet/config.json"));
        int layers = unetConfig.get("layers_per_block").asInt();
        Map<String, Weight> unet = SafeTensors.open(diffusersDir.resolve("unet/diffusion_pytorch_model.safetensors")).tensors();
        unet.forEach((name, w) -> SdxlOriginalLayout.put(out, "model.diffusion_model."
                + (name.equals("class_embedding.weight") ? "label_emb.weight" : SdxlOriginalLayout.unetName(name, layers, unet.keySet())), w));
        int vaeLevels = Json.read(diffusersDir.resolve("vae/config.json")).get("block_out_channels").size();
        SafeTensors.open(diffusersDir.resolve("vae/diffusion_pytorch_model.safetensors")).tensors()
                .forEach((name, w) -> SdxlOriginalLayout.vae(out, name, w, vaeLevels));
        int textLayers = Json.read(diffusersDir.resolve("text_encoder/config.json")).get("num_hidden_layers").asInt();
        Map<String, Weight> text = new TreeMap<>(SafeTensors.open(diffusersDir.resolve("text_encoder/model.safetensors")).tensors());
        String last = "text_model.encoder.layers." + (textLayers - 1) + ".", unused = "text_model.encoder.layers." + textLayers + ".";
        for (var e : new TreeMap<>(text).entrySet()) {
            if (e.getKey().startsWith(last)) text.put(unused + e.getKey().substring(last.length()), e.getValue());
        }
        SdxlOriginalLayout.openClip(out, "cond_stage_model.model.", text);
        SafeTensorsWriter.write(file, out);
    }
}
