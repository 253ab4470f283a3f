package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.prompt.PromptEmbedding;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.Samplers;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import io.jdiffusion.testing.SdxlOriginalLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SDXL text to image: the reference image from both layouts (the single file built here from the
 * diffusers folder), the empty-negative-prompt rule and guidance-free runs. The folder case is also one
 * of {@link Txt2ImgParityTest}'s.
 */
class SdxlTxt2ImgTest {
    @TempDir
    Path dir;

    private static JsonNode sdxlCase() {
        return Fixtures.cases("txt2img").stream().filter(c -> c.get("model").asText().equals("tiny-sdxl")).findFirst().orElseThrow();
    }

    private static Txt2ImgRequest request(JsonNode c, Path model) {
        return new Txt2ImgRequest(model, null, c.get("prompt").asText(), c.get("negative_prompt").asText(),
                c.get("sampler").asText(), c.get("num_inference_steps").asInt(), c.get("guidance_scale").asDouble(),
                c.get("seed").asLong(), c.get("width").asInt(), c.get("height").asInt(), 1, 1, null, false);
    }

    @Test
    void singleFileGivesTheFoldersImageAndTheReference() {
        JsonNode c = sdxlCase();
        Path folder = Fixtures.require("tiny-sdxl");
        Path file = dir.resolve("tiny-sdxl.safetensors");
        SdxlOriginalLayout.write(folder, file);

        GeneratedImage fromFolder = Txt2Img.run(request(c, folder), StepListener.NONE).getFirst();
        GeneratedImage fromFile = Txt2Img.run(request(c, file), StepListener.NONE).getFirst();

        assertThat(fromFile.rgb()).as("single file == folder").isEqualTo(fromFolder.rgb());
        ImageDelta.between(fromFile, Fixtures.require(c.get("image").asText())).assertWithinTolerance("SDXL vs reference");
    }

    @Test
    void emptyNegativePromptIsZerosOnlyWhenTheModelSaysSo() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.require("tiny-sdxl"));
        assertThat(model.forceZerosForEmptyPrompt()).isTrue();
        SdxlConditioning zeroing = new SdxlConditioning(model);
        PromptEmbedding zeros = zeroing.encodeNegative("");
        PromptEmbedding prompt = zeroing.encode("a horse");
        assertThat(zeros.context().shape).isEqualTo(prompt.context().shape);
        assertThat(zeros.pooled().shape).isEqualTo(prompt.pooled().shape);
        assertThat(allZero(zeros.context())).isTrue();
        assertThat(allZero(zeros.pooled())).isTrue();

        StableDiffusionModel encoding = new StableDiffusionModel(model.source(), model.layout(), model.family(), model.textEncoder(),
                model.unetConfig(), model.unet(), model.vaeConfig(), model.vae(), model.scheduler(), model.textEncoder2(), false);
        PromptEmbedding empty = new SdxlConditioning(encoding).encodeNegative("");
        assertThat(allZero(empty.context())).isFalse();
        assertThat(empty.context().data).containsExactly(zeroing.encode("").context().data);
        // a non-empty negative prompt is always encoded
        assertThat(zeroing.encodeNegative("blurry").context().data).containsExactly(zeroing.encode("blurry").context().data);
    }

    @Test
    void contextJoinsBothEncodersPenultimateStates() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.require("tiny-sdxl"));
        PromptEmbedding e = new SdxlConditioning(model).encode("an astronaut");
        int c1 = model.textEncoder().config().hiddenSize(), c2 = model.textEncoder2().config().hiddenSize();
        assertThat(e.context().shape).containsExactly(1, 77, c1 + c2);
        assertThat(c1 + c2).isEqualTo(model.unetConfig().crossAttentionDim());
        assertThat(e.pooled().shape).containsExactly(1, model.textEncoder2().config().projectionDim());
    }

    @Test
    void withoutGuidanceTheNegativePromptPlaysNoPart() {
        JsonNode c = sdxlCase();
        Path folder = Fixtures.require("tiny-sdxl");
        LoadedModel model = new LoadedModel(ModelLoader.load(folder));
        Txt2ImgRequest base = request(c, folder);
        Txt2ImgRequest a = withCfgAndNegative(base, 1.0, "");
        Txt2ImgRequest b = withCfgAndNegative(base, 1.0, "blurry, low quality");
        Txt2ImgRequest guided = withCfgAndNegative(base, 2.0, "blurry, low quality");
        byte[] imageA = Txt2Img.run(model, a, StepListener.NONE).getFirst().rgb();
        assertThat(Txt2Img.run(model, b, StepListener.NONE).getFirst().rgb()).isEqualTo(imageA);
        assertThat(Txt2Img.run(model, guided, StepListener.NONE).getFirst().rgb()).isNotEqualTo(imageA);
    }

    @Test
    void sizeConditioningChangesTheImage() {
        JsonNode c = sdxlCase();
        Path folder = Fixtures.require("tiny-sdxl");
        LoadedModel model = new LoadedModel(ModelLoader.load(folder));
        Txt2ImgRequest base = request(c, folder);
        byte[] defaults = Txt2Img.run(model, base, StepListener.NONE).getFirst().rgb();
        SizeConditioning same = SizeConditioning.forImage(base.width(), base.height());
        byte[] explicit = Txt2Img.run(model, withSizes(base, same), StepListener.NONE).getFirst().rgb();
        byte[] small = Txt2Img.run(model, withSizes(base, new SizeConditioning(16, 16, 0, 0, base.width(), base.height())),
                StepListener.NONE).getFirst().rgb();
        assertThat(explicit).isEqualTo(defaults);
        assertThat(small).isNotEqualTo(defaults);
    }

    /** The README's Turbo recipe: trailing spacing from the bundled config, one step, guidance off. */
    @Test
    void turboRecipeRunsOneUNetStepFromTheLastTimestep() {
        JsonNode c = sdxlCase();
        Path folder = Fixtures.require("tiny-sdxl");
        Path turboConfig = Path.of("..", "configs", "turbo");
        Path file = dir.resolve("tiny-sdxl-turbo.safetensors");
        SdxlOriginalLayout.write(folder, file);

        StableDiffusionModel model = ModelLoader.load(file, turboConfig);
        assertThat(model.scheduler().textOr("timestep_spacing", null)).isEqualTo("trailing");
        Sampler sampler = Samplers.create("euler_a", model.scheduler(), 1);
        assertThat(sampler.timesteps()).containsExactly(model.scheduler().intOr("num_train_timesteps", 0) - 1);

        LoadedModel loaded = new LoadedModel(model);
        Txt2ImgRequest turbo = new Txt2ImgRequest(file, turboConfig, c.get("prompt").asText(), "", "euler_a", 1, 0.0,
                c.get("seed").asLong(), 64, 64, 1, 1, null, false);
        NoisePredictor unguided = Generation.Conditioning.of(loaded, turbo).predictor(loaded);
        int[] calls = {0};
        NoisePredictor counting = (x, t) -> {
            calls[0]++;
            return unguided.predict(x, t);
        };
        Tensor out = sampler.sample(counting, new TorchCpuRandom(1).randn(1, 4, 8, 8), new TorchCpuRandom(2), StepListener.NONE);
        assertThat(calls[0]).isEqualTo(1);
        for (float v : out.data) assertThat(Float.isFinite(v)).isTrue();

        Txt2ImgRequest turboFolder = new Txt2ImgRequest(folder, turboConfig, c.get("prompt").asText(), "blurry", "euler_a", 1, 0.0,
                c.get("seed").asLong(), 64, 64, 1, 1, null, false);
        assertThat(Txt2Img.run(turbo, StepListener.NONE).getFirst().rgb())
                .isEqualTo(Txt2Img.run(turboFolder, StepListener.NONE).getFirst().rgb());
    }

    @Test
    void timeIdsAreHeightFirst() {
        Tensor ids = new SizeConditioning(1024, 768, 32, 16, 896, 640).timeIds();
        assertThat(ids.shape).containsExactly(1, SizeConditioning.TIME_IDS);
        assertThat(ids.data).containsExactly(768, 1024, 16, 32, 640, 896);
    }

    private static Txt2ImgRequest withCfgAndNegative(Txt2ImgRequest r, double cfg, String negative) {
        return new Txt2ImgRequest(r.model(), r.configDir(), r.prompt(), negative, r.sampler(), r.steps(), cfg, r.seed(),
                r.width(), r.height(), r.batchSize(), r.clipSkip(), r.predictionType(), r.watermark(), r.sizeConditioning(), r.embeddings());
    }

    private static Txt2ImgRequest withSizes(Txt2ImgRequest r, SizeConditioning sizes) {
        return new Txt2ImgRequest(r.model(), r.configDir(), r.prompt(), r.negativePrompt(), r.sampler(), r.steps(), r.cfgScale(),
                r.seed(), r.width(), r.height(), r.batchSize(), r.clipSkip(), r.predictionType(), r.watermark(), sizes, r.embeddings());
    }

    private static boolean allZero(Tensor t) {
        for (float v : t.data) if (v != 0f) return false;
        return true;
    }
}
