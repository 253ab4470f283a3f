package io.jdiffusion.model;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static io.jdiffusion.model.ModelLoaderTest.assertSameWeights;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VaeLoaderTest {
    @TempDir
    Path dir;

    /** The VAE part of an original checkpoint, as Stability AI publishes VAEs: encoder.*, decoder.*, quant_conv.* */
    private Path originalLayoutVae(String checkpoint, String prefixKept) {
        Map<String, Weight> vae = new LinkedHashMap<>();
        SafeTensors.open(Fixtures.require(checkpoint)).tensors().forEach((name, w) -> {
            if (name.startsWith("first_stage_model.")) vae.put(prefixKept + name.substring("first_stage_model.".length()), w);
        });
        Path file = dir.resolve(checkpoint.replace(".safetensors", "") + "-vae" + prefixKept.length() + ".safetensors");
        SafeTensorsWriter.write(file, vae);
        return file;
    }

    @Test
    void originalLayoutVaeFileReplacesTheModelsVae() {
        // the depth model's VAE has other weights (and another architecture) than the SD 1.x model's
        StableDiffusionModel sd15 = ModelLoader.load(Fixtures.require("tiny-sd15"));
        StableDiffusionModel depth = ModelLoader.load(Fixtures.require("tiny-sd2-depth"));
        for (String prefix : new String[]{"", "first_stage_model."}) {
            StableDiffusionModel swapped = VaeLoader.swap(sd15, originalLayoutVae("tiny-sd2-depth.safetensors", prefix));
            assertSameWeights("VAE", swapped.vae(), depth.vae());
            assertThat(swapped.vaeConfig().blockOutChannels()).isEqualTo(depth.vaeConfig().blockOutChannels());
            assertThat(swapped.vaeConfig().layersPerBlock()).isEqualTo(depth.vaeConfig().layersPerBlock());
            // a file has no config: the latent scaling stays the model's
            assertThat(swapped.vaeConfig().scalingFactor()).isEqualTo(sd15.vaeConfig().scalingFactor());
            assertThat(swapped.unet()).isSameAs(sd15.unet());
        }
    }

    @Test
    void diffusersVaeFolderAndFileReplaceTheModelsVae() {
        // the SDXL VAE: other weights, and a config with another scaling factor, which a folder brings along
        StableDiffusionModel sd15 = ModelLoader.load(Fixtures.require("tiny-sd15.safetensors"));
        Path folder = Fixtures.require("tiny-sdxl/vae");
        Path weightsFile = folder.resolve("diffusion_pytorch_model.safetensors");
        Weights expected = new Weights(SafeTensors.open(weightsFile).tensors(), "expected");
        VaeConfig expectedConfig = VaeConfig.fromDiffusers(Json.read(folder.resolve("config.json")));

        StableDiffusionModel fromFolder = VaeLoader.swap(sd15, folder);
        assertSameWeights("VAE", fromFolder.vae(), expected);
        assertThat(fromFolder.vaeConfig()).isEqualTo(expectedConfig);
        assertThat(fromFolder.vaeConfig().scalingFactor()).isNotEqualTo(sd15.vaeConfig().scalingFactor());

        StableDiffusionModel fromFile = VaeLoader.swap(sd15, weightsFile);
        assertSameWeights("VAE", fromFile.vae(), expected);
        assertThat(fromFile.vaeConfig().scalingFactor()).isEqualTo(sd15.vaeConfig().scalingFactor());
    }

    @Test
    void notAVaeIsRefused() {
        StableDiffusionModel sd15 = ModelLoader.load(Fixtures.require("tiny-sd15.safetensors"));
        Path model = Fixtures.require("tiny-sd15.safetensors");
        assertThatThrownBy(() -> VaeLoader.swap(sd15, model)).isInstanceOf(JDiffusionException.class)
                .hasMessage(model + ": is a whole checkpoint, not a VAE (use it as --model)");
        Path lora = Fixtures.require("tiny-sd15-ref/lora-attn.safetensors");
        assertThatThrownBy(() -> VaeLoader.swap(sd15, lora)).hasMessage(lora + ": not a VAE (no encoder.down / decoder.up tensors)");
    }

    @Test
    void vaeOfAnotherLatentSpaceIsRefused() throws IOException {
        // the same VAE with a latent space of 2 channels instead of 4
        Map<String, Weight> vae = new LinkedHashMap<>();
        SafeTensors.open(originalLayoutVae("tiny-sd15.safetensors", "")).tensors().forEach((name, w) -> {
            long[] s = w.shape().clone();
            if (name.equals("decoder.conv_in.weight") || name.equals("post_quant_conv.weight")) s[1] = s[1] / 2;
            if (name.startsWith("post_quant_conv.") || name.startsWith("quant_conv.")) s[0] = s[0] / 2;
            if (name.equals("quant_conv.weight")) s[1] = s[1] / 2;
            if (name.startsWith("encoder.conv_out.")) s[0] = s[0] / 2;
            vae.put(name, Weight.ofFloats(name, new float[(int) Weight.numel(s)], s));
        });
        Path file = dir.resolve("two-channel.safetensors");
        SafeTensorsWriter.write(file, vae);
        StableDiffusionModel sd15 = ModelLoader.load(Fixtures.require("tiny-sd15.safetensors"));
        assertThatThrownBy(() -> VaeLoader.swap(sd15, file)).hasMessage(file + ": this VAE has 2 latent channels, the model's has 4: it belongs to another kind of model");
    }
}
