package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.Json;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.UNetConfig;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import io.jdiffusion.testing.ImageDelta;
import io.jdiffusion.testing.Sd2OriginalLayout;
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
 * The SD x4 upscaler on a tiny random model against diffusers' StableDiffusionUpscalePipeline
 * (resources generated/tiny-sd-x4-upscaler, made by tools/fixtures/tiny_sd_x4_upscaler.py): the final latents
 * and the 4× images, for DDIM (v-prediction, the model's own scheduler) and for Euler ancestral (whose input
 * scaling and step noise show) on a picture whose size is not a multiple of the VAE factor, two images a run.
 */
class UpscaleParityTest {
    static Path folder;
    static LoadedModel model;

    /** The generated fixture folder. */
    static Path fixtureFolder() {
        return Generated.dir("tiny-sd-x4-upscaler");
    }

    @BeforeAll
    static void load() {
        folder = fixtureFolder();
        model = new LoadedModel(ModelLoader.load(folder, null));
    }

    static List<JsonNode> cases() {
        List<JsonNode> out = new ArrayList<>();
        Json.read(fixtureFolder().resolve("cases.json")).get("cases").forEach(out::add);
        return out;
    }

    static UpscaleRequest request(JsonNode c, Path model) {
        Txt2ImgRequest params = new Txt2ImgRequest(model, null, c.get("prompt").asText(), c.get("negative_prompt").asText(),
                c.get("sampler").asText(), c.get("steps").asInt(), c.get("cfg_scale").asDouble(), c.get("seed").asLong(),
                0, 0, c.get("batch_size").asInt(), 1, null, false);
        RgbImage image = RgbImage.read(model.resolve(c.get("input").asText()), "input");
        return new UpscaleRequest(params, image, c.get("noise_level").asInt());
    }

    @TestFactory
    List<DynamicTest> latentsAndImagesMatchDiffusers() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : cases()) tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> check(model, c)));
        return tests;
    }

    /** Runs the case on the model and compares the final latents and every image with the reference. */
    private static void check(LoadedModel model, JsonNode c) {
                Tensor[] last = new Tensor[1];
                List<GeneratedImage> images = Upscale.run(model, request(c, folder), (step, total, latents) -> {
                    last[0] = latents;
                    return true;
                });
                SafeTensors ref = SafeTensors.open(folder.resolve(c.get("name").asText() + ".safetensors"));
                Tensor expected = Fixtures.tensor(ref, "latents");
                assertThat(last[0].shape).containsExactly(expected.shape);
                double err = Fixtures.relativeError(last[0].data, expected.data);
                System.out.printf("%s: final latents relative error %.3g%n", c.get("name").asText(), err);
                assertThat(err).isLessThanOrEqualTo(1e-4);

                JsonNode outputs = c.get("outputs");
                assertThat(images).hasSize(outputs.size());
                for (int i = 0; i < images.size(); i++) {
                    GeneratedImage image = images.get(i);
                    assertThat(new int[]{image.width(), image.height()})
                            .containsExactly(c.get("output_size").get(0).asInt(), c.get("output_size").get(1).asInt());
                    ImageDelta.between(image, folder.resolve(outputs.get(i).asText()))
                            .assertWithinTolerance(c.get("name").asText() + " image " + (i + 1));
                }
    }

    /**
     * The folder written as the original single file (as x4-upscaler-ema.safetensors is laid out): the loader
     * infers what the folder's configs say, except GroupNorm's groups (the published 32, which the tiny widths
     * cannot have) and the tokenizer, which the file does not carry.
     */
    @Test
    void singleFileInfersTheUpscalersArchitecture(@TempDir Path dir) {
        Path file = dir.resolve("x4-upscaler-tiny.safetensors");
        Sd2OriginalLayout.write(folder, file);
        StableDiffusionModel single = ModelLoader.load(file, null), diffusers = model.model();
        UNetConfig inferred = single.unetConfig(), expected = diffusers.unetConfig();
        assertThat(inferred.inChannels()).isEqualTo(expected.inChannels());
        assertThat(inferred.numClassEmbeds()).isEqualTo(expected.numClassEmbeds());
        assertThat(inferred.downAttention()).containsExactly(expected.downAttention());
        for (int l = 0; l < expected.headsPerBlock().length; l++) {
            if (!expected.downAttention()[l]) continue; // a level without transformers has no use for either
            assertThat(inferred.headsPerBlock()[l]).as("heads at level " + l).isEqualTo(expected.headsPerBlock()[l]);
            assertThat(inferred.onlyCrossAttention()[l]).as("only_cross_attention at level " + l).isEqualTo(expected.onlyCrossAttention()[l]);
        }
        assertThat(inferred.crossAttentionDim()).isEqualTo(expected.crossAttentionDim());
        assertThat(inferred.useLinearProjection()).isEqualTo(expected.useLinearProjection());
        assertThat(single.vaeConfig().scalingFactor()).isEqualTo(diffusers.vaeConfig().scalingFactor());
        assertThat(single.vaeConfig().blockOutChannels()).containsExactly(diffusers.vaeConfig().blockOutChannels());
        assertThat(single.textEncoder().config().numLayers()).isEqualTo(diffusers.textEncoder().config().numLayers());
        for (String key : new String[]{"beta_start", "beta_end", "num_train_timesteps"}) {
            assertThat(single.scheduler().doubleOr(key, -1)).as(key).isEqualTo(diffusers.scheduler().doubleOr(key, -2));
        }
        for (String key : new String[]{"beta_schedule", "prediction_type"}) {
            assertThat(single.scheduler().textOr(key, "?")).as(key).isEqualTo(diffusers.scheduler().textOr(key, "!"));
        }
    }

    /** The single file with the folder's configs (--config) draws the reference images. */
    @Test
    void singleFileWithTheFoldersConfigsMatchesDiffusers(@TempDir Path dir) {
        Path file = dir.resolve("x4-upscaler-tiny.safetensors");
        Sd2OriginalLayout.write(folder, file);
        LoadedModel single = new LoadedModel(ModelLoader.load(file, folder));
        for (JsonNode c : cases()) check(single, c);
    }

    @Test
    void infotextCarriesTheOutputSizeAndNoiseLevel() {
        JsonNode c = cases().getFirst();
        GeneratedImage image = Upscale.run(model, request(c, folder), null).getFirst();
        assertThat(image.infotext()).contains("Size: " + image.width() + "x" + image.height())
                .contains("Noise level: " + c.get("noise_level").asInt());
    }

    @Test
    void refusesAModelThatIsNotAnUpscaler() {
        LoadedModel sd15 = new LoadedModel(ModelLoader.load(Fixtures.tinySd15(), null));
        JsonNode c = cases().getFirst();
        assertThatThrownBy(() -> Upscale.run(sd15, request(c, folder), null))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("not an upscaler model")
                .hasMessageNotContaining("\n");
    }

    @Test
    void txt2imgOnTheUpscalerIsOneLineError() {
        Txt2ImgRequest params = request(cases().getFirst(), folder).params().withSize(16, 16);
        assertThatThrownBy(() -> Txt2Img.run(model, params, null))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("takes " + model.unetInChannels() + " input channels")
                .hasMessageNotContaining("\n");
    }

    @Test
    void refusesANoiseLevelAboveTheModelsMaximum() {
        JsonNode c = cases().getFirst();
        UpscaleRequest base = request(c, folder);
        int max = Json.read(folder.resolve("model_index.json")).get("max_noise_level").asInt();
        UpscaleRequest tooMuch = new UpscaleRequest(base.params(), base.image(), max + 1);
        assertThatThrownBy(() -> Upscale.run(model, tooMuch, null))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("--noise-level: " + (max + 1));
        UpscaleRequest negative = new UpscaleRequest(base.params(), base.image(), -1);
        assertThatThrownBy(negative::validate).isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--noise-level: -1");
    }

    @Test
    void refusesAPictureSmallerThanTheVaeFactor() {
        UpscaleRequest base = request(cases().getFirst(), folder);
        UpscaleRequest tiny = new UpscaleRequest(base.params(), RgbImage.filled(3, 9, 10, 20, 30), base.noiseLevel());
        assertThatThrownBy(() -> Upscale.run(model, tiny, null))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("--init-image: the image is 3x9");
    }
}
