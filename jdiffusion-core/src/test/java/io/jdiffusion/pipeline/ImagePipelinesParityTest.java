package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every img2img and inpainting case of the fixtures (diffusers' pipelines on the tiny models), compared with
 * the reference image as 8-bit pixels. Inpainting runs without the overlay, as the reference does.
 */
class ImagePipelinesParityTest {
    private static final Map<String, LoadedModel> MODELS = new HashMap<>();

    @TestFactory
    List<DynamicTest> everyImg2ImgCase() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : Fixtures.cases("img2img")) {
            tests.add(DynamicTest.dynamicTest(c.get("id").asText(), () -> {
                Txt2ImgRequest params = params(c);
                Img2ImgRequest request = new Img2ImgRequest(params, image(c.get("init_image").asText()),
                        c.get("strength").asDouble(), ResizeMode.RESIZE);
                GeneratedImage out = Img2Img.run(model(c), request, StepListener.NONE).getFirst();
                ImageDelta.between(out, Fixtures.require(c.get("image").asText())).assertWithinTolerance(c.get("id").asText());
            }));
        }
        return tests;
    }

    @TestFactory
    List<DynamicTest> everyInpaintCase() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : Fixtures.cases("inpaint")) {
            tests.add(DynamicTest.dynamicTest(c.get("id").asText(), () -> {
                InpaintRequest request = new InpaintRequest(params(c), image(c.get("init_image").asText()),
                        image(c.get("mask").asText()), c.get("strength").asDouble(), ResizeMode.RESIZE, false, 0, false);
                GeneratedImage out = Inpaint.run(model(c), request, StepListener.NONE).getFirst();
                ImageDelta.between(out, Fixtures.require(c.get("image").asText())).assertWithinTolerance(c.get("id").asText());
            }));
        }
        return tests;
    }

    /** The case's generation parameters; size 0 (from the init image) where the case gives none. */
    static Txt2ImgRequest params(JsonNode c) {
        return new Txt2ImgRequest(modelPath(c), null, c.get("prompt").asText(), c.get("negative_prompt").asText(),
                c.get("sampler").asText(), c.get("num_inference_steps").asInt(), c.get("guidance_scale").asDouble(),
                c.get("seed").asLong(), c.path("width").asInt(0), c.path("height").asInt(0), 1, 1, null, false);
    }

    static RgbImage image(String fixture) {
        Path p = Fixtures.require(fixture);
        return RgbImage.read(p, fixture);
    }

    /** The case's model: the diffusers folder when there is one, else the single file. */
    static Path modelPath(JsonNode c) {
        String name = c.get("model").asText();
        for (JsonNode m : Fixtures.cases("model")) {
            if (!m.get("name").asText().equals(name)) continue;
            String layout = m.hasNonNull("diffusers_dir") ? "diffusers_dir" : "single_file";
            return Fixtures.require(m.get(layout).asText());
        }
        throw new AssertionError("cases.json names no model " + name);
    }

    static synchronized LoadedModel model(JsonNode c) {
        Path path = modelPath(c);
        return MODELS.computeIfAbsent(path.toString(), k -> new LoadedModel(ModelLoader.load(path, null)));
    }
}
