package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Whole pipelines with a TAESD as the VAE ({@code --vae} naming one), against diffusers' pipelines given the same
 * tiny AutoencoderTiny ({@code tools/fixtures/taesd.py}): the sampler's latents go to the TAESD unscaled (SD 1.x and
 * SDXL alike), and img2img takes the TAESD encoder's latents without drawing from the generator.
 */
class TaesdPipelineTest {

    private static JsonNode sharedCase(String id) {
        return Fixtures.cases().stream().filter(c -> id.equals(c.path("id").asText())).findFirst().orElseThrow();
    }

    /** The shared img2img_euler_a_50 case's request. */
    private static Img2ImgRequest img2imgCase() {
        JsonNode c = sharedCase("img2img_euler_a_50");
        return new Img2ImgRequest(ImagePipelinesParityTest.params(c), ImagePipelinesParityTest.image(c.get("init_image").asText()),
                c.get("strength").asDouble(), ResizeMode.RESIZE);
    }

    private static ModelAddons taesd(String relative) {
        return new ModelAddons(List.of(), Generated.require(relative));
    }

    @Test
    void txt2imgSd15MatchesDiffusersWithAutoencoderTiny() {
        JsonNode c = sharedCase("txt2img_euler");
        Txt2ImgRequest request = ImagePipelinesParityTest.params(c);
        for (String layout : new String[]{"taesd/tiny-taesd", "taesd/taesd_decoder.safetensors"}) {
            GeneratedImage image = Txt2Img.run(request, taesd(layout), StepListener.NONE).getFirst();
            ImageDelta.between(image, Generated.require("taesd/txt2img_euler_sd15.png")).assertWithinTolerance("txt2img with " + layout);
        }
    }

    @Test
    void img2imgEncodesWithTheTaesdEncoder() {
        Img2ImgRequest request = img2imgCase();
        GeneratedImage image = Img2Img.run(request, taesd("taesd/tiny-taesd"), StepListener.NONE).getFirst();
        ImageDelta.between(image, Generated.require("taesd/img2img_euler_a_50_sd15.png")).assertWithinTolerance("img2img with TAESD");
    }

    @Test
    void sdxlDecodesTheSamplersLatentsUnscaled() {
        JsonNode c = sharedCase("sdxl_euler");
        Txt2ImgRequest request = ImagePipelinesParityTest.params(c);
        GeneratedImage image = Txt2Img.run(request, taesd("taesd/tiny-taesd"), StepListener.NONE).getFirst();
        ImageDelta.between(image, Generated.require("taesd/txt2img_euler_sdxl.png")).assertWithinTolerance("SDXL txt2img with TAESD");
    }

    @Test
    void infotextNamesTheTaesdAsTheVaeAfterTheModel() {
        JsonNode c = sharedCase("txt2img_euler");
        Txt2ImgRequest request = ImagePipelinesParityTest.params(c);
        GeneratedImage image = Txt2Img.run(request, taesd("taesd/taesd_decoder.safetensors"), StepListener.NONE).getFirst();
        Infotext info = Infotext.parse(image.infotext());
        assertThat(info.get("VAE")).isEqualTo("taesd_decoder.safetensors");
        List<String> keys = List.copyOf(info.parameters().keySet());
        assertThat(keys.indexOf("VAE")).isEqualTo(keys.indexOf("Model") + 1);
    }

    @Test
    void aTaesdWithoutEncoderCannotStartImg2Img() {
        Img2ImgRequest request = img2imgCase();
        Path decoderOnly = Generated.require("taesd/taesd_decoder.pth");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> Img2Img.run(request, new ModelAddons(List.of(), decoderOnly), StepListener.NONE))
                .isInstanceOf(io.jdiffusion.JDiffusionException.class).hasMessageContaining("taesd_decoder.pth")
                .hasMessageContaining("no encoder");
    }
}
