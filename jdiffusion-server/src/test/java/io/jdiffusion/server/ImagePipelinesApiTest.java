package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Img2Img;
import io.jdiffusion.pipeline.Img2ImgRequest;
import io.jdiffusion.pipeline.Inpaint;
import io.jdiffusion.pipeline.InpaintRequest;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.pipeline.MaskedContent;
import io.jdiffusion.pipeline.Outpaint;
import io.jdiffusion.pipeline.OutpaintRequest;
import io.jdiffusion.pipeline.ResizeMode;
import io.jdiffusion.pipeline.RgbImage;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * POST /sdapi/v1/img2img (plain and with a mask) and POST /jdiffusion/v1/outpaint over real HTTP with
 * the tiny SD 1.x model and the core pipelines: the images match the fixtures' reference images and what
 * the core (the CLI's calls) makes for the same parameters, with the same infotext.
 *
 * <p>The references are diffusers' pipelines, which add no watermark and paste nothing back, so the
 * server runs with {@code withWatermark(false)} and the inpainting request sends {@code jdiffusion_overlay:
 * false} (A1111 always pastes the original back, and so do we by default).
 */
class ImagePipelinesApiTest {
    private static Path model;
    private static JDiffusionServer server;
    private static ApiClient client;
    private static LoadedModel direct;

    @BeforeAll
    static void start() {
        model = Fixtures.require("tiny-sd15.safetensors");
        server = JDiffusionServer.start(ServerOptions.of(model.toString(), null).withPort(0).withWatermark(false));
        client = new ApiClient(server);
        direct = new LoadedModel(ModelLoader.load(model, null));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static JsonNode fixtureCase(String kind, String id) {
        return Fixtures.cases(kind).stream().filter(c -> c.get("id").asText().equals(id)).findFirst().orElseThrow();
    }

    private static String base64(String fixture) {
        try {
            return Base64.getEncoder().encodeToString(Files.readAllBytes(Fixtures.require(fixture)));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static RgbImage image(String fixture) {
        return RgbImage.read(Fixtures.require(fixture), fixture);
    }

    /** The case as an A1111 body: our sampler id is accepted as sampler_name; the size is the init image's. */
    private static ObjectNode body(JsonNode c) {
        RgbImage init = image(c.get("init_image").asText());
        ObjectNode b = ApiClient.object();
        b.put("prompt", c.get("prompt").asText());
        b.put("negative_prompt", c.get("negative_prompt").asText());
        b.put("sampler_name", c.get("sampler").asText());
        b.put("steps", c.get("num_inference_steps").asInt());
        b.put("cfg_scale", c.get("guidance_scale").asDouble());
        b.put("seed", c.get("seed").asLong());
        b.put("width", c.path("width").asInt(init.width()));
        b.put("height", c.path("height").asInt(init.height()));
        b.put("denoising_strength", c.get("strength").asDouble());
        b.putArray("init_images").add(base64(c.get("init_image").asText()));
        return b;
    }

    /** The same parameters as the core takes them (what the CLI builds from its flags). */
    private static Txt2ImgRequest params(JsonNode c, int width, int height) {
        return new Txt2ImgRequest(model.toAbsolutePath().normalize(), null, c.get("prompt").asText(),
                c.get("negative_prompt").asText(), c.get("sampler").asText(), c.get("num_inference_steps").asInt(),
                c.get("guidance_scale").asDouble(), c.get("seed").asLong(), width, height, 1, 1, null, false);
    }

    private static ApiClient.Reply ok(ApiClient.Reply reply) {
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        assertThat(reply.json().get("images")).hasSize(1);
        return reply;
    }

    /** The same image and infotext; one level of float rounding allowed (see Txt2ImgApiTest). */
    private static void assertSame(Png.Image got, GeneratedImage expected) {
        assertThat(got.width()).isEqualTo(expected.width());
        assertThat(got.height()).isEqualTo(expected.height());
        ImageDelta d = ImageDelta.between(got.rgb(), expected.rgb());
        assertThat(d.max()).as("max |Δ| against the core's image: " + d).isLessThanOrEqualTo(1);
        assertThat(got.text()).containsEntry("parameters", expected.infotext());
    }

    @Test
    void img2imgMatchesTheReferenceAndTheCore() {
        JsonNode c = fixtureCase("img2img", "img2img_euler_a_50");
        ApiClient.Reply reply = ok(client.post("/sdapi/v1/img2img", body(c)));
        Png.Image got = reply.image(0);
        ImageDelta.between(got.rgb(), Png.read(Fixtures.require(c.get("image").asText())).rgb())
                .assertWithinTolerance(c.get("id").asText());

        RgbImage init = image(c.get("init_image").asText());
        GeneratedImage expected = Img2Img.run(direct, new Img2ImgRequest(params(c, init.width(), init.height()), init,
                c.get("strength").asDouble(), ResizeMode.RESIZE), StepListener.NONE).getFirst();
        assertSame(got, expected);
        assertThat(expected.infotext()).contains("Denoising strength: 0.5");
        assertThat(reply.info().get("denoising_strength").asDouble()).isEqualTo(0.5);
    }

    @Test
    void inpaintWithoutOverlayMatchesTheReference() {
        JsonNode c = fixtureCase("inpaint", "inpaint_4ch");
        ObjectNode body = body(c);
        body.put("mask", "data:image/png;base64," + base64(c.get("mask").asText()));
        body.put("inpaint_full_res", false);
        body.put("jdiffusion_overlay", false);
        Png.Image got = ok(client.post("/sdapi/v1/img2img", body)).image(0);
        ImageDelta.between(got.rgb(), Png.read(Fixtures.require(c.get("image").asText())).rgb())
                .assertWithinTolerance(c.get("id").asText());
    }

    /** A1111's defaults (overlay on, mask blur 4, inverted mask here) give what the core makes with them. */
    @Test
    void inpaintWithA1111DefaultsMatchesTheCore() {
        JsonNode c = fixtureCase("inpaint", "inpaint_4ch");
        ObjectNode body = body(c);
        body.put("mask", base64(c.get("mask").asText()));
        body.put("inpainting_mask_invert", 1);
        body.put("denoising_strength", 0.75);
        Png.Image got = ok(client.post("/sdapi/v1/img2img", body)).image(0);

        RgbImage init = image(c.get("init_image").asText());
        GeneratedImage expected = Inpaint.run(direct, new InpaintRequest(params(c, init.width(), init.height()), init,
                image(c.get("mask").asText()), 0.75, ResizeMode.RESIZE, true, 4, true, MaskedContent.FILL, false, 32),
                StepListener.NONE).getFirst();
        assertSame(got, expected);
        assertThat(expected.infotext()).contains("Mask blur: 4", "Masked content: fill");
    }

    /**
     * Every inpainting_fill, on the whole picture and "only masked" (inpaint_full_res), gives what the core
     * makes with the same masked content and inpaint area; only masked keeps the picture's own size.
     */
    @Test
    void inpaintingFillAndOnlyMaskedReachTheCore() {
        JsonNode c = fixtureCase("inpaint", "inpaint_4ch");
        RgbImage init = image(c.get("init_image").asText()), mask = image(c.get("mask").asText());
        for (boolean onlyMasked : new boolean[]{false, true}) {
            for (MaskedContent content : MaskedContent.values()) {
                ObjectNode body = body(c);
                body.put("mask", base64(c.get("mask").asText()));
                body.put("denoising_strength", 0.6);
                body.put("inpainting_fill", content.a1111());
                body.put("inpaint_full_res", onlyMasked);
                body.put("inpaint_full_res_padding", 8);
                // only masked: the crop is inpainted at 48×32, the answer has the picture's size
                body.put("width", onlyMasked ? 48 : init.width());
                body.put("height", onlyMasked ? 32 : init.height());
                Png.Image got = ok(client.post("/sdapi/v1/img2img", body)).image(0);

                Txt2ImgRequest p = params(c, body.get("width").asInt(), body.get("height").asInt());
                GeneratedImage expected = Inpaint.run(direct, new InpaintRequest(p, init, mask, 0.6, ResizeMode.RESIZE,
                        false, 4, true, content, onlyMasked, 8), StepListener.NONE).getFirst();
                assertThat(got.width()).isEqualTo(init.width());
                assertThat(got.height()).isEqualTo(init.height());
                assertSame(got, expected);
                if (onlyMasked) assertThat(expected.infotext()).contains("Inpaint area: Only masked", "Size: 48x32");
            }
        }
    }

    @Test
    void outpaintMatchesTheCoreOnTheGrownCanvas() {
        JsonNode c = fixtureCase("img2img", "img2img_euler_a_50");
        ObjectNode body = body(c);
        body.remove("denoising_strength");
        body.remove("width");
        body.remove("height");
        body.put("left", 16);
        body.put("bottom", 8);
        ApiClient.Reply reply = ok(client.post("/jdiffusion/v1/outpaint", body));
        Png.Image got = reply.image(0);
        assertThat(got.width()).isEqualTo(64 + 16);
        assertThat(got.height()).isEqualTo(64 + 8);
        assertThat(reply.info().get("width").asInt()).isEqualTo(80);

        RgbImage init = image(c.get("init_image").asText());
        GeneratedImage expected = Outpaint.run(direct, new OutpaintRequest(params(c, 0, 0), init, 16, 0, 0, 8, null,
                OutpaintRequest.DEFAULT_OVERLAP, true), StepListener.NONE).getFirst();
        assertSame(got, expected);
    }
}
