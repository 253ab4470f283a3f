package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * depth2img on the tiny SD 2 depth model with a DPT-Hybrid depth estimator (the generated tiny-dpt-hybrid, whose
 * own parity with transformers DptHybridParityTest checks): given as --depth-model, and as the depth_estimator/
 * of a model folder, as the published stable-diffusion-2-depth carries it. No reference image exists for this
 * pairing, so the runs are checked against the same pipeline fed the estimator's depth map explicitly.
 */
class Depth2ImgHybridEstimatorTest {
    @TempDir
    Path tmp;

    private static JsonNode sd2Depth() {
        return Fixtures.cases("model").stream().filter(m -> m.get("name").asText().equals("tiny-sd2-depth")).findFirst().orElseThrow();
    }

    private static JsonNode estimatedCase() {
        return Fixtures.cases("depth2img").stream().filter(c -> c.get("id").asText().equals("depth2img_ddim_estimated"))
                .findFirst().orElseThrow();
    }

    private static Img2ImgRequest img2img(JsonNode c, Path model) {
        Txt2ImgRequest params = new Txt2ImgRequest(model, null, c.get("prompt").asText(), c.get("negative_prompt").asText(),
                c.get("sampler").asText(), c.get("num_inference_steps").asInt(), c.get("guidance_scale").asDouble(),
                c.get("seed").asLong(), c.get("width").asInt(), c.get("height").asInt(), 1, 1, null, false);
        RgbImage init = RgbImage.read(Fixtures.require(c.get("init_image").asText()), "init");
        return new Img2ImgRequest(params, init, c.get("strength").asDouble(), ResizeMode.RESIZE);
    }

    /** The image from the hybrid estimator's depth of the init image, handed to the pipeline as a depth map. */
    private static GeneratedImage withExplicitHybridDepth(LoadedModel model, Img2ImgRequest img2img) {
        Tensor depth = DepthMaps.Estimator.load(Generated.dir("tiny-dpt-hybrid"), "--depth-model").estimate(img2img.initImage());
        return Depth2Img.run(model, new Depth2ImgRequest(img2img, depth, null), StepListener.NONE).getFirst();
    }

    @Test
    void hybridEstimatorAsDepthModel() {
        JsonNode c = estimatedCase();
        Path single = Fixtures.require(sd2Depth().get("single_file").asText());
        LoadedModel model = new LoadedModel(ModelLoader.load(single, null));
        Img2ImgRequest img2img = img2img(c, single);

        GeneratedImage out = Depth2Img.run(model, new Depth2ImgRequest(img2img, null, Generated.dir("tiny-dpt-hybrid")), StepListener.NONE).getFirst();

        assertThat(out.width()).isEqualTo(c.get("width").asInt());
        assertThat(out.height()).isEqualTo(c.get("height").asInt());
        assertThat(out.infotext()).contains("Depth: estimated");
        assertThat(out.rgb()).as("the image from the hybrid estimator's depth").isEqualTo(withExplicitHybridDepth(model, img2img).rgb());
        // and the depth matters: the plain-ViT estimator's depth gives another image
        Path plain = Fixtures.require(Fixtures.cases("depth_estimator").getFirst().get("dir").asText());
        GeneratedImage other = Depth2Img.run(model, new Depth2ImgRequest(img2img, null, plain), StepListener.NONE).getFirst();
        assertThat(other.rgb()).isNotEqualTo(out.rgb());
    }

    @Test
    void hybridEstimatorInTheModelFolder() throws IOException {
        Path folder = Fixtures.require(sd2Depth().get("diffusers_dir").asText());
        // the tiny SD 2 depth folder with DPT-Hybrid as its depth_estimator/
        Path model = Files.createDirectory(tmp.resolve("sd2-depth-hybrid"));
        try (Stream<Path> parts = Files.list(folder)) {
            for (Path part : parts.toList()) {
                if (!part.getFileName().toString().equals("depth_estimator")) {
                    Files.createSymbolicLink(model.resolve(part.getFileName()), part.toAbsolutePath());
                }
            }
        }
        Files.createSymbolicLink(model.resolve("depth_estimator"), Generated.dir("tiny-dpt-hybrid").toAbsolutePath());
        try {
            assertThat(Depth2Img.estimator(model, null).model().config().hybrid()).isTrue();
            JsonNode c = estimatedCase();
            LoadedModel loaded = new LoadedModel(ModelLoader.load(model, null));
            Img2ImgRequest img2img = img2img(c, model);
            GeneratedImage out = Depth2Img.run(loaded, new Depth2ImgRequest(img2img, null, null), StepListener.NONE).getFirst();
            assertThat(out.infotext()).contains("Depth: estimated");
            assertThat(out.rgb()).isEqualTo(withExplicitHybridDepth(loaded, img2img).rgb());
        } finally {
            // the links go before the temporary folder is cleaned up, which would warn about each one
            try (Stream<Path> links = Files.list(model)) {
                for (Path link : links.toList()) Files.delete(link);
            }
        }
    }
}
