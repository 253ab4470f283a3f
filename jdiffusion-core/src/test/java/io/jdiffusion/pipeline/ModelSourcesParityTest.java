package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.addon.HypernetworkWriter;
import io.jdiffusion.model.addon.LoraSpec;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.model.addon.Loras;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

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
        ImageDelta d = ImageDelta.between(image, Fixtures.require(c.get("image").asText())).assertWithinTolerance("txt2img_euler from the .ckpt");
        System.out.println("txt2img_euler from the .ckpt: " + d);
    }

    /** Each LoRA case: with the LoRA its reference image, without it the base image (which the LoRA visibly changes). */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"lora", "lora_full"})
    void loraGivesTheReferenceImage(String id) {
        JsonNode c = caseById(id);
        Path modelPath = Fixtures.tinySd15();
        StableDiffusionModel base = ModelLoader.load(modelPath);
        Txt2ImgRequest request = request(c, modelPath);

        StableDiffusionModel withLora = Loras.apply(base, List.of(new LoraSpec(Fixtures.require(c.get("lora").asText()), c.get("weight").asDouble())));
        GeneratedImage image = Txt2Img.run(new LoadedModel(withLora), request, StepListener.NONE).getFirst();
        ImageDelta d = ImageDelta.between(image, Fixtures.require(c.get("image").asText())).assertWithinTolerance(id);

        GeneratedImage off = Txt2Img.run(new LoadedModel(base), request, StepListener.NONE).getFirst();
        ImageDelta dOff = ImageDelta.between(off, Fixtures.require(c.get("base_image").asText())).assertWithinTolerance(id + " without the LoRA");
        System.out.println(id + ": with LoRA " + d + "; without " + dOff + "; LoRA vs base image "
                + ImageDelta.between(image, Fixtures.require(c.get("base_image").asText())));
    }

    /** The tiny UNet's attention widths: the cross-attention context and each level's channels (self-attention). */
    private static int[] attentionWidths(StableDiffusionModel m) {
        java.util.TreeSet<Integer> widths = new java.util.TreeSet<>();
        widths.add(m.unetConfig().crossAttentionDim());
        for (int c : m.unetConfig().blockOutChannels()) widths.add(c);
        return widths.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void hypernetworkThatAddsNothingLeavesTheImageAndARandomOneChangesItStably(@TempDir Path dir) throws java.io.IOException {
        JsonNode c = caseById("txt2img_euler_a");
        Path modelPath = Fixtures.tinySd15();
        StableDiffusionModel base = ModelLoader.load(modelPath);
        Txt2ImgRequest request = request(c, modelPath);
        Path expected = Fixtures.require(c.get("image").asText());

        Path identity = HypernetworkWriter.write(dir.resolve("identity.pt"), attentionWidths(base), 5, true);
        ModelAddons zero = new ModelAddons(List.of(), null, List.of(new ModelAddons.HypernetworkSpec(identity, 1.0)));
        GeneratedImage same = Txt2Img.run(new LoadedModel(base, zero.attentionInputs()), request, StepListener.NONE).getFirst();
        assertThat(same.rgb()).isEqualTo(Txt2Img.run(new LoadedModel(base), request, StepListener.NONE).getFirst().rgb());
        ImageDelta.between(same, expected).assertWithinTolerance("zero hypernetwork");

        Path random = HypernetworkWriter.write(dir.resolve("random.pt"), attentionWidths(base), 5, false);
        ModelAddons addons = new ModelAddons(List.of(), null, List.of(new ModelAddons.HypernetworkSpec(random, 1.0)));
        GeneratedImage first = Txt2Img.run(new LoadedModel(base, addons.attentionInputs()), request, StepListener.NONE).getFirst();
        GeneratedImage second = Txt2Img.run(new LoadedModel(base, addons.attentionInputs()), request, StepListener.NONE).getFirst();
        assertThat(second.rgb()).isEqualTo(first.rgb());
        ImageDelta changed = ImageDelta.between(first, expected);
        System.out.println("random hypernetwork vs the plain image: " + changed);
        assertThat(changed.mean()).isGreaterThan(1.0);
    }
}
