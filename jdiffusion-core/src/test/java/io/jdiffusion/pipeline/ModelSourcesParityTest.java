package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

/** Images from models that come from elsewhere than a safetensors file: a .ckpt, LoRAs, a swapped VAE. */
class ModelSourcesParityTest {

    static JsonNode caseById(String id) {
        return Fixtures.cases().stream().filter(c -> id.equals(c.path("id").asText())).findFirst().orElseThrow();
    }

    static Txt2ImgRequest request(JsonNode c, Path model) {
        return new Txt2ImgRequest(model, null, c.get("prompt").asText(), c.get("negative_prompt").asText(),
                c.get("sampler").asText(), c.get("num_inference_steps").asInt(), c.get("guidance_scale").asDouble(),
                c.get("seed").asLong(), c.get("width").asInt(), c.get("height").asInt(), 1, 1, null, false);
    }

    @Test
    void ckptGivesTheReferenceImage() {
        Path ckpt = Fixtures.require(Fixtures.cases("ckpt").getFirst().get("file").asText());
        JsonNode c = caseById("txt2img_euler");
        GeneratedImage image = Txt2Img.run(new LoadedModel(ModelLoader.load(ckpt)), request(c, ckpt), StepListener.NONE).getFirst();
        ImageDelta.between(image, Fixtures.require(c.get("image").asText())).assertWithinTolerance("txt2img_euler from the .ckpt");
    }
}
