package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.Json;
import io.jdiffusion.model.ModelInfo;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.UNetConfig;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.Samplers;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import io.jdiffusion.testing.SdxlOriginalLayout;
import io.jdiffusion.testing.TinySdxlRefiner;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The SDXL refiner on a tiny random model against diffusers (resources generated/tiny-sdxl-refiner, made by
 * tools/fixtures/tiny_sdxl_refiner.py): img2img with the refiner alone (StableDiffusionXLImg2ImgPipeline with
 * requires_aesthetics_score), and the "ensemble of experts" (the tiny SDXL base with denoising_end, then the
 * refiner with denoising_start, one generator for both), from the diffusers folder and from the single file.
 * The refiner's text encoder is the base's second (tiny-sdxl/text_encoder_2), put beside the committed parts.
 */
class SdxlRefinerTest {
    @TempDir
    static Path dir;
    static Path fixture, folder;
    static LoadedModel refiner;

    @BeforeAll
    static void load() {
        fixture = TinySdxlRefiner.fixture();
        folder = TinySdxlRefiner.assemble(dir);
        refiner = new LoadedModel(ModelLoader.load(folder));
    }

    static JsonNode testCase(String name) {
        return TinySdxlRefiner.testCase(name);
    }

    static Txt2ImgRequest params(JsonNode c, Path model, int width, int height) {
        return new Txt2ImgRequest(model, null, c.get("prompt").asText(), c.get("negative_prompt").asText(),
                c.get("sampler").asText(), c.get("steps").asInt(), c.get("cfg_scale").asDouble(), c.get("seed").asLong(),
                width, height, c.get("batch_size").asInt(), 1, null, false, null, List.of(),
                new AestheticScores(c.get("aesthetic_score").asDouble(), c.get("negative_aesthetic_score").asDouble()));
    }

    static Img2ImgRequest img2img(JsonNode c, Path model) {
        RgbImage init = RgbImage.read(fixture.resolve(c.get("input").asText()), "input");
        return new Img2ImgRequest(params(c, model, 0, 0), init, c.get("strength").asDouble(), ResizeMode.RESIZE);
    }

    private static void checkImg2Img(LoadedModel model, Path source) {
        JsonNode c = testCase("refiner_img2img_euler");
        GeneratedImage image = Img2Img.run(model, img2img(c, source), null).getFirst();
        ImageDelta.between(image, fixture.resolve(c.get("outputs").get(0).asText())).assertWithinTolerance(c.get("name").asText());
    }

    @Test
    void img2imgWithTheRefinerMatchesDiffusers() {
        checkImg2Img(refiner, folder);
    }

    /** Every ensemble case of the fixture: Euler ancestral (the draws continue), DPM++ 2M (the refiner starts without history). */
    @TestFactory
    List<DynamicTest> ensembleOfExpertsMatchesDiffusers() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : Json.read(fixture.resolve("cases.json")).get("cases")) {
            if (c.get("kind").asText().equals("txt2img_refiner")) tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> checkEnsemble(c)));
        }
        assertThat(tests).hasSizeGreaterThanOrEqualTo(2);
        return tests;
    }

    private static void checkEnsemble(JsonNode c) {
        LoadedModel base = new LoadedModel(ModelLoader.load(Fixtures.require("tiny-sdxl")));
        Txt2ImgRequest request = params(c, Path.of(base.model().source()), c.get("width").asInt(), c.get("height").asInt());
        double switchAt = c.get("switch_at").asDouble();

        // the base's part ends where diffusers' denoising_end does: its latents are the refiner's start
        Sampler sampler = Samplers.create(request.sampler(), base.model().scheduler(), request.steps());
        int baseSteps = sampler.timesteps().length - Refiner.refinerEvaluations(sampler, 1000, switchAt);
        Tensor[] atSwitch = new Tensor[1];
        int[] seen = {0, 0};
        List<GeneratedImage> images = Refiner.run(base, refiner, request, switchAt, (step, total, latents) -> {
            if (step == baseSteps) atSwitch[0] = latents.copy();
            seen[0] = step;
            seen[1] = total;
            return true;
        });
        Tensor expected = Fixtures.tensor(SafeTensors.open(fixture.resolve(c.get("name").asText() + "-base-latents.safetensors")), "latents");
        assertThat(atSwitch[0].shape).containsExactly(expected.shape);
        double err = Fixtures.relativeError(atSwitch[0].data, expected.data);
        System.out.printf("%s: latents at the switch relative error %.3g%n", c.get("name").asText(), err);
        assertThat(err).isLessThanOrEqualTo(1e-4);
        assertThat(seen).containsExactly(request.steps(), request.steps());

        GeneratedImage image = images.getFirst();
        ImageDelta.between(image, fixture.resolve(c.get("outputs").get(0).asText())).assertWithinTolerance(c.get("name").asText());
        assertThat(image.infotext()).contains("Refiner: tiny-sdxl-refiner").contains("Refiner switch at: " + c.get("switch_at").asText())
                .contains("Model: tiny-sdxl");
    }

    /** The folder written as sd_xl_refiner_1.0.safetensors is laid out: the loader infers the refiner's architecture. */
    @Test
    void singleFileInfersTheRefinersArchitecture() {
        Path file = dir.resolve("sd_xl_refiner_tiny.safetensors");
        SdxlOriginalLayout.writeRefiner(folder, file);
        StableDiffusionModel single = ModelLoader.load(file), diffusers = refiner.model();
        assertThat(single.isSdxlRefiner()).isTrue();
        assertThat(single.forceZerosForEmptyPrompt()).isFalse(); // the published refiner's pipeline config
        UNetConfig inferred = single.unetConfig(), expected = diffusers.unetConfig();
        assertThat(inferred.additionTimeEmbedDim()).isEqualTo(expected.additionTimeEmbedDim());
        assertThat(inferred.projectionClassEmbeddingsInputDim()).isEqualTo(expected.projectionClassEmbeddingsInputDim());
        assertThat(inferred.crossAttentionDim()).isEqualTo(expected.crossAttentionDim());
        assertThat(inferred.downAttention()).containsExactly(expected.downAttention());
        int levels = expected.blockOutChannels().length;
        for (int l = 0; l < levels; l++) {
            // a level without transformers uses its depth only for the mid block (the last level's)
            if (expected.downAttention()[l] || l == levels - 1) {
                assertThat(inferred.transformerDepth()[l]).as("depth at level " + l).isEqualTo(expected.transformerDepth()[l]);
            }
        }
        assertThat(single.textEncoder2().config().projectionDim()).isEqualTo(diffusers.textEncoder2().config().projectionDim());
        assertThat(single.textEncoder2().config().numLayers()).isEqualTo(diffusers.textEncoder2().config().numLayers());
    }

    /** The single file with the folder's configs draws the reference image. */
    @Test
    void singleFileRefinerMatchesDiffusers() {
        Path file = dir.resolve("sd_xl_refiner_tiny_run.safetensors");
        SdxlOriginalLayout.writeRefiner(folder, file);
        // with the folder's configs (--config): GroupNorm's groups (the published 32) are more than the tiny widths have
        checkImg2Img(new LoadedModel(ModelLoader.load(file, folder)), file);
    }

    @Test
    void infoNamesTheRefinerAndItsConditioning() {
        String info = ModelInfo.describe(refiner.model());
        assertThat(info).contains("Stable Diffusion XL refiner").contains("aesthetic score")
                .doesNotContain("text encoder 1").doesNotContain("text encoder 2");
    }

    @Test
    void aSwitchThatLeavesTheRefinerNoStepIsOneLineError() {
        JsonNode c = testCase("ensemble_euler_a");
        LoadedModel base = new LoadedModel(ModelLoader.load(Fixtures.require("tiny-sdxl")));
        Txt2ImgRequest request = params(c, Path.of(base.model().source()), 64, 64);
        // 10 "leading" steps end at timestep 1: a cutoff of round(1000 - 999.5) = 0 (half to even) leaves nothing below it
        assertThatThrownBy(() -> Refiner.run(base, refiner, request, 0.9995, null)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("--refiner-switch-at: 0.9995 leaves no step").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Refiner.run(base, refiner, request, 1.0, null)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("--refiner-switch-at: 1.0 is outside (0, 1)");
    }

    @Test
    void secondOrderSamplersHandOverAtAStepBoundary() {
        Sampler heun = Samplers.create("heun", refiner.model().scheduler(), 10);
        int refinerPart = Refiner.refinerEvaluations(heun, 1000, 0.8);
        // Heun evaluates 2·steps − 1 times: [t0, t1, t1, t2, t2, ...], each repeated timestep first closing the step
        // before (its corrector), then opening the next; the refiner's part opens a step, after the base closed one
        double[] t = heun.timesteps();
        assertThat(t).hasSize(19);
        int start = t.length - refinerPart;
        assertThat(start % 2).as("start index " + start).isZero();
        assertThat(t[start - 1]).isEqualTo(t[start]);
        assertThat(t[start + 1]).isLessThan(200);
    }

    @Test
    void aestheticScoresOutsideTheirRangeAreRefused() {
        assertThatThrownBy(() -> new AestheticScores(11, 2.5).validate()).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("--aesthetic-score: 11");
        assertThatThrownBy(() -> new AestheticScores(6, Double.NaN).validate()).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("--negative-aesthetic-score: NaN");
    }
}
