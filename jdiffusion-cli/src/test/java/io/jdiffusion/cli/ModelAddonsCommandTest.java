package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.model.addon.LoraSpec;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** --models-dir, --model NAME, --lora, <lora:...>, --vae and `jdiffusion models`, over an A1111-style folder. */
class ModelAddonsCommandTest {
    @TempDir
    Path dir;

    private CliRun run(Txt2ImgCommand.Pipeline pipeline, String... args) {
        return CliRun.run(dir, pipeline, args);
    }

    /** An A1111 folder: the tiny model as a .ckpt, the two fixture LoRAs, the model's own VAE as a separate file. */
    private Path a1111() throws IOException {
        Path root = dir.resolve("webui");
        Path checkpoints = Files.createDirectories(root.resolve("models/Stable-diffusion/tiny"));
        Files.copy(Fixtures.require("tiny-sd15.ckpt"), checkpoints.resolve("tiny-sd15.ckpt"));
        Path loras = Files.createDirectories(root.resolve("models/Lora"));
        Files.copy(Fixtures.require("tiny-sd15-ref/lora-attn.safetensors"), loras.resolve("lora-attn.safetensors"));
        Files.copy(Fixtures.require("tiny-sd15-ref/lora-full.safetensors"), loras.resolve("lora-full.safetensors"));
        Map<String, Weight> vae = new LinkedHashMap<>();
        SafeTensors.open(Fixtures.require("tiny-sd15.safetensors")).tensors().forEach((n, w) -> {
            if (n.startsWith("first_stage_model.")) vae.put(n.substring("first_stage_model.".length()), w);
        });
        SafeTensorsWriter.write(Files.createDirectories(root.resolve("models/VAE")).resolve("tiny-vae.safetensors"), vae);
        return root;
    }

    private static JsonNode loraCase() {
        return Fixtures.cases("lora").stream().filter(c -> c.get("id").asText().equals("lora")).findFirst().orElseThrow();
    }

    /** The lora case's run as command-line flags, writing {@code output}. */
    private static List<String> caseFlags(JsonNode c, String prompt, Path output) {
        return new ArrayList<>(List.of("txt2img", "--prompt", prompt, "--negative-prompt", c.get("negative_prompt").asText(),
                "--sampler", c.get("sampler").asText(), "--steps", c.get("num_inference_steps").asText(),
                "--cfg-scale", c.get("guidance_scale").asText(), "--seed", c.get("seed").asText(),
                "--width", c.get("width").asText(), "--height", c.get("height").asText(), "--no-watermark",
                "--output", output.toString()));
    }

    @Test
    void modelsListsWhatTheFolderHolds() throws IOException {
        Path root = a1111();
        CliRun r = run(null, "models", "--models-dir", root.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Checkpoints (models/Stable-diffusion): 1\n  tiny/tiny-sd15  ",
                "LoRA (models/Lora, models/LyCORIS): 2\n  lora-attn  ", "  lora-full  ",
                "VAE (models/VAE): 1\n  tiny-vae  ", "Hypernetworks (models/hypernetworks): none", "Embeddings (embeddings): none");
    }

    @Test
    void loraNamedInThePromptGivesTheReferenceImage() throws IOException {
        JsonNode c = loraCase();
        Path root = a1111(), out = dir.resolve("lora.png");
        // "In A1111 prompt syntax: <lora:lora-attn:0.8>", with the model found by its name
        List<String> args = caseFlags(c, c.get("prompt").asText() + "<lora:lora-attn:" + c.get("weight").asText() + ">", out);
        args.addAll(List.of("--models-dir", root.toString(), "--model", "tiny-sd15"));
        CliRun r = run(null, args.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isZero();
        ImageDelta.between(out, Fixtures.require(c.get("image").asText())).assertWithinTolerance(c.get("id").asText());
        // A1111 keeps the tag in the infotext's prompt, so that the parameters bring the LoRA back
        assertThat(Png.read(out).text().get("parameters")).startsWith(c.get("prompt").asText() + "<lora:lora-attn:" + c.get("weight").asText() + ">\n");
    }

    @Test
    void loraFlagGivesTheReferenceImageAndVaeFlagSwapsTheVae() throws IOException {
        JsonNode c = loraCase();
        Path root = a1111(), out = dir.resolve("lora.png");
        List<String> args = caseFlags(c, c.get("prompt").asText(), out);
        args.addAll(List.of("--model", Fixtures.require("tiny-sd15.safetensors").toString(),
                "--lora", Fixtures.require(c.get("lora").asText()) + ":" + c.get("weight").asText(),
                "--vae", root.resolve("models/VAE/tiny-vae.safetensors").toString()));
        CliRun r = run(null, args.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isZero();
        // the swapped-in VAE holds the model's own weights: the image is still the reference
        ImageDelta.between(out, Fixtures.require(c.get("image").asText())).assertWithinTolerance(c.get("id").asText());
        assertThat(Infotext.parse(Png.read(out).text().get("parameters")).get("VAE")).isEqualTo("tiny-vae.safetensors");

        // another model's VAE (the depth model's: other weights) decodes the same latents differently
        Path other = dir.resolve("other.png");
        List<String> otherArgs = caseFlags(c, c.get("prompt").asText(), other);
        otherArgs.addAll(List.of("--model", Fixtures.require("tiny-sd15.safetensors").toString(),
                "--vae", Fixtures.require("tiny-sd2-depth/vae").toString()));
        CliRun r2 = run(null, otherArgs.toArray(String[]::new));
        assertThat(r2.exitCode()).as(r2.err()).isZero();
        assertThat(Infotext.parse(Png.read(other).text().get("parameters")).get("VAE")).as("a diffusers vae folder").isEqualTo("tiny-sd2-depth/vae");
        assertThat(ImageDelta.between(other, Fixtures.require(c.get("base_image").asText())).mean()).isGreaterThan(1.0);
    }

    @Test
    void flagsAndTagsReachThePipeline() throws IOException {
        Path root = a1111();
        AtomicReference<Txt2ImgRequest> request = new AtomicReference<>();
        AtomicReference<ModelAddons> addons = new AtomicReference<>();
        Txt2ImgCommand.Pipeline recorder = new Txt2ImgCommand.Pipeline() {
            @Override
            public List<GeneratedImage> run(Txt2ImgRequest r, StepListener l) {
                throw new AssertionError("the add-on method must be called");
            }

            @Override
            public List<GeneratedImage> run(Txt2ImgRequest r, ModelAddons a, StepListener l) {
                request.set(r);
                addons.set(a);
                return List.of(new GeneratedImage(r.width(), r.height(), new byte[r.width() * r.height() * 3], r.seed(), null));
            }
        };
        Path loraFile = root.resolve("models/Lora/lora-full.safetensors");
        Path hypernet = Files.write(Files.createDirectories(root.resolve("models/hypernetworks")).resolve("anime.pt"), new byte[]{1});
        CliRun r = run(recorder, "txt2img", "--models-dir", root.resolve("models").toString(), "--model", "tiny/tiny-sd15.ckpt",
                "--prompt", "a <lora:lora-attn:0.5:0.25>fox<hypernet:anime:0.3>", "--lora", "lora-full:2", "--lora", loraFile.toString(),
                "--vae", "tiny-vae", "--width", "64", "--height", "64", "--output", dir.resolve("x.png").toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(request.get().prompt()).isEqualTo("a <lora:lora-attn:0.5:0.25>fox<hypernet:anime:0.3>"); // the pipeline cuts the tags out
        assertThat(request.get().model()).isEqualTo(root.resolve("models/Stable-diffusion/tiny/tiny-sd15.ckpt"));
        assertThat(addons.get().loras()).containsExactly(new LoraSpec(loraFile, 2.0), new LoraSpec(loraFile, 1.0),
                new LoraSpec(root.resolve("models/Lora/lora-attn.safetensors"), 0.5, 0.25));
        assertThat(addons.get().vae()).isEqualTo(root.resolve("models/VAE/tiny-vae.safetensors"));
        assertThat(addons.get().hypernetworks()).containsExactly(new ModelAddons.HypernetworkSpec(hypernet, 0.3));
    }

    @Test
    void addOnProblemsAreOneLineErrors() throws IOException {
        Path model = Fixtures.require("tiny-sd15.safetensors");
        Path out = dir.resolve("x.png");
        List<String> base = List.of("txt2img", "--width", "64", "--height", "64", "--steps", "1", "--output", out.toString());

        List<String> tagWithoutDir = new ArrayList<>(base);
        tagWithoutDir.addAll(List.of("--model", model.toString(), "--prompt", "a cat <lora:style:1>"));
        CliRun r = run(null, tagWithoutDir.toArray(String[]::new));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("error: prompt: <lora:style:...> needs --models-dir to find the LoRA");

        List<String> missing = new ArrayList<>(base);
        missing.addAll(List.of("--model", model.toString(), "--prompt", "a cat", "--lora", dir.resolve("nope.safetensors") + ":0.5"));
        r = run(null, missing.toArray(String[]::new));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("error: --lora: " + dir.resolve("nope.safetensors") + ": no such file");

        List<String> wrongModel = new ArrayList<>(base);
        wrongModel.addAll(List.of("--prompt", "a cat", "--model", Fixtures.require("tiny-sd21-v.safetensors").toString(),
                "--prediction-type", "v_prediction", "--lora", Fixtures.require("tiny-sd15-ref/lora-attn.safetensors").toString()));
        r = run(null, wrongModel.toArray(String[]::new));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().lines().toList()).hasSize(1);
        assertThat(r.err()).contains("does not fit this Stable Diffusion 2.x model");
        assertThat(out).doesNotExist();
    }
}
