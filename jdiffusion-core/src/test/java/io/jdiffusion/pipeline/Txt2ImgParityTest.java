package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
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
 * Every txt2img case of the fixtures, from the diffusers folder and from the single original-layout
 * file, compared with the reference image as 8-bit pixels (mean |Δ| ≤ 0.5, max |Δ| ≤ 4 levels).
 */
class Txt2ImgParityTest {
    private static final Map<String, LoadedModel> MODELS = new HashMap<>();

    @TestFactory
    List<DynamicTest> everyTxt2ImgCase() {
        Map<String, JsonNode> models = new HashMap<>();
        for (JsonNode m : Fixtures.cases("model")) models.put(m.get("name").asText(), m);
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : Fixtures.cases("txt2img")) {
            JsonNode model = models.get(c.get("model").asText());
            String family = model.path("family").asText();
            // A single file cannot tell v-prediction from its weights: the user says so, as here.
            String prediction = family.endsWith("-v") ? "v_prediction" : null;
            for (String layout : new String[]{"diffusers_dir", "single_file"}) {
                if (!model.hasNonNull(layout)) continue;
                String modelPath = model.get(layout).asText();
                tests.add(DynamicTest.dynamicTest(c.get("id").asText() + " / " + modelPath,
                        () -> checkCase(c, modelPath, prediction)));
            }
        }
        return tests;
    }

    private static void checkCase(JsonNode c, String modelPath, String prediction) {
        Path model = Fixtures.require(modelPath);
        Path expectedPng = Fixtures.require(c.get("image").asText());
        LoadedModel loaded = MODELS.computeIfAbsent(modelPath + prediction, k -> {
            StableDiffusionModel m = ModelLoader.load(model, null);
            return new LoadedModel(prediction == null ? m : m.withPredictionType(prediction));
        });
        Txt2ImgRequest request = new Txt2ImgRequest(model, null, c.get("prompt").asText(),
                c.get("negative_prompt").asText(), c.get("sampler").asText(), c.get("num_inference_steps").asInt(),
                c.get("guidance_scale").asDouble(), c.get("seed").asLong(), c.get("width").asInt(),
                c.get("height").asInt(), 1, 1, prediction, false);
        GeneratedImage image = Txt2Img.run(loaded, request, StepListener.NONE).getFirst();

        ImageDelta.between(image, expectedPng).assertWithinTolerance(c.get("id").asText() + " / " + modelPath);
    }
}
