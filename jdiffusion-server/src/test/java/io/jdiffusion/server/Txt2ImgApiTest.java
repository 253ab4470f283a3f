package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.HiresFix;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.pipeline.Txt2Img;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** POST /sdapi/v1/txt2img over real HTTP with the tiny SD 1.x model, and png-info on what it returns. */
class Txt2ImgApiTest {
    private static Path model;
    private static JDiffusionServer server;
    private static ApiClient client;
    private static LoadedModel direct; // the same model, run without the server

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

    private static JsonNode eulerACase() {
        return Fixtures.cases("txt2img").stream()
                .filter(c -> c.get("id").asText().equals("txt2img_euler_a")).findFirst().orElseThrow();
    }

    /** The fixture case as an A1111 request body (our sampler id is accepted as sampler_name). */
    static ObjectNode body(JsonNode c) {
        ObjectNode b = ApiClient.object();
        b.put("prompt", c.get("prompt").asText());
        b.put("negative_prompt", c.get("negative_prompt").asText());
        b.put("sampler_name", c.get("sampler").asText());
        b.put("steps", c.get("num_inference_steps").asInt());
        b.put("cfg_scale", c.get("guidance_scale").asDouble());
        b.put("seed", c.get("seed").asLong());
        b.put("width", c.get("width").asInt());
        b.put("height", c.get("height").asInt());
        return b;
    }

    /**
     * The same image up to float rounding: the core's kernels are not bit-reproducible from one run to
     * the next in a JVM (a handful of pixels differ by one level between the first, interpreted run and
     * later compiled ones), so one level is allowed; a wrong parameter changes far more.
     */
    private static void assertSameImage(byte[] actual, byte[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        int max = 0, differing = 0;
        for (int i = 0; i < actual.length; i++) {
            int d = Math.abs((actual[i] & 0xff) - (expected[i] & 0xff));
            max = Math.max(max, d);
            if (d != 0) differing++;
        }
        assertThat(max).as("max |Δ| in levels (" + differing + " bytes differ)").isLessThanOrEqualTo(1);
        assertThat(differing).as("bytes that differ").isLessThan(actual.length / 100);
    }

    @Test
    void returnsTheImageTxt2ImgRunMakesWithTheSameInfotext() {
        JsonNode c = eulerACase();
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body(c));
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);

        Txt2ImgRequest request = new Txt2ImgRequest(model.toAbsolutePath().normalize(), null, c.get("prompt").asText(),
                c.get("negative_prompt").asText(), c.get("sampler").asText(), c.get("num_inference_steps").asInt(),
                c.get("guidance_scale").asDouble(), c.get("seed").asLong(), c.get("width").asInt(), c.get("height").asInt(),
                1, 1, null, false);
        GeneratedImage expected = Txt2Img.run(direct, request, StepListener.NONE).getFirst();

        assertThat(reply.json().get("images")).hasSize(1);
        Png.Image got = reply.image(0);
        assertThat(got.width()).isEqualTo(expected.width());
        assertThat(got.height()).isEqualTo(expected.height());
        assertSameImage(got.rgb(), expected.rgb());
        assertThat(got.text()).containsEntry("parameters", expected.infotext());
        assertThat(reply.info().get("infotexts").get(0).asText()).isEqualTo(expected.infotext());
    }

    /** A1111's hires-fix fields run the core's hires fix: the image at the target size, as {@code Txt2Img.run} makes it. */
    @Test
    void enableHrRunsTheHiresFix() {
        JsonNode c = eulerACase();
        ObjectNode body = body(c);
        body.put("steps", 3);
        body.put("enable_hr", true);
        body.put("hr_scale", 1.5);
        body.put("hr_upscaler", "Lanczos");
        body.put("hr_second_pass_steps", 2);
        body.put("denoising_strength", 0.6);
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);

        Txt2ImgRequest request = new Txt2ImgRequest(model.toAbsolutePath().normalize(), null, c.get("prompt").asText(),
                c.get("negative_prompt").asText(), c.get("sampler").asText(), 3, c.get("guidance_scale").asDouble(),
                c.get("seed").asLong(), c.get("width").asInt(), c.get("height").asInt(), 1, 1, null, false);
        HiresFix hires = new HiresFix(1.5, 2, 0.6, HiresFix.Upscaler.LANCZOS);
        GeneratedImage expected = Txt2Img.run(direct, request, hires, StepListener.NONE).getFirst();
        Png.Image got = reply.image(0);
        assertThat(got.width()).isEqualTo(hires.targetWidth(c.get("width").asInt())).isGreaterThan(c.get("width").asInt());
        assertThat(got.height()).isEqualTo(expected.height());
        assertSameImage(got.rgb(), expected.rgb());
        assertThat(got.text()).containsEntry("parameters", expected.infotext());
        assertThat(Infotext.parse(expected.infotext()).parameters()).containsEntry("Hires upscaler", "Lanczos").containsEntry("Denoising strength", "0.6");
        assertThat(reply.info().get("denoising_strength").asDouble()).isEqualTo(0.6);
    }

    @Test
    void matchesTheReferenceImageOfTheFixture() {
        JsonNode c = eulerACase();
        Png.Image reference = Png.read(Fixtures.require(c.get("image").asText()));
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body(c));
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        Png.Image got = reply.image(0);
        assertThat(got.width()).isEqualTo(reference.width());
        assertThat(got.height()).isEqualTo(reference.height());
        ImageDelta.between(got.rgb(), reference.rgb()).assertWithinTolerance("txt2img over HTTP");
    }

    @Test
    void infoDescribesTheRunInA1111Terms() {
        ObjectNode body = body(eulerACase());
        body.put("sampler_name", "DPM++ 2M");
        body.put("scheduler", "Karras");
        body.put("steps", 2);
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);

        JsonNode info = reply.info();
        assertThat(info.get("sampler_name").asText()).isEqualTo("DPM++ 2M");
        assertThat(info.get("seed").asLong()).isEqualTo(body.get("seed").asLong());
        assertThat(info.get("width").asInt()).isEqualTo(64);
        assertThat(info.get("sd_model_name").asText()).isEqualTo("tiny-sd15");
        assertThat(info.get("sd_model_hash").asText()).isEqualTo(Infotext.modelHash(model));
        Infotext text = Infotext.parse(reply.image(0).text().get("parameters"));
        assertThat(text.get("Sampler")).isEqualTo("DPM++ 2M");
        assertThat(text.get("Schedule type")).isEqualTo("Karras");
        assertThat(text.get("Steps")).isEqualTo("2");
        // the request is echoed back, including fields the server does not use
        assertThat(reply.json().get("parameters").get("scheduler").asText()).isEqualTo("Karras");
    }

    @Test
    void batchesFollowA1111SeedNumberingAndEachBatchIsReproducible() {
        ObjectNode body = body(eulerACase());
        body.put("steps", 2);
        body.put("batch_size", 2);
        body.put("n_iter", 2);
        body.put("seed", 500);
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        assertThat(reply.json().get("images")).hasSize(4);
        List<Long> seeds = reply.info().get("all_seeds").valueStream().map(JsonNode::asLong).toList();
        assertThat(seeds).containsExactly(500L, 500L, 502L, 502L);

        // the second batch is what Txt2Img makes from seed 502 with the same batch size
        Txt2ImgRequest second = new Txt2ImgRequest(model.toAbsolutePath().normalize(), null, body.get("prompt").asText(),
                body.get("negative_prompt").asText(), "euler_a", 2, body.get("cfg_scale").asDouble(), 502, 64, 64, 2, 1,
                null, false);
        List<GeneratedImage> expected = Txt2Img.run(direct, second, StepListener.NONE);
        assertSameImage(reply.image(2).rgb(), expected.get(0).rgb());
        assertSameImage(reply.image(3).rgb(), expected.get(1).rgb());
    }

    @Test
    void randomSeedIsReportedAndUnknownFieldsAreIgnored() {
        ObjectNode body = ApiClient.object();
        body.put("prompt", "a red cube");
        body.put("steps", 1);
        body.put("width", 64);
        body.put("height", 64);
        body.put("seed", -1);
        body.put("eta", 0.3);                       // a known field that we do not use
        body.putArray("styles").add("no such style");
        body.putObject("something_new").put("x", 1); // a field A1111 does not have either
        body.putObject("override_settings").put("filter_nsfw", true);
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        long seed = reply.info().get("seed").asLong();
        assertThat(seed).isBetween(0L, (1L << 32) - 1);
        assertThat(Infotext.parse(reply.image(0).text().get("parameters")).get("Seed")).isEqualTo(Long.toString(seed));
        assertThat(reply.json().get("parameters").get("seed").asLong()).isEqualTo(-1);
    }

    /**
     * The example of A1111's API wiki page ("API" on the AUTOMATIC1111/stable-diffusion-webui wiki),
     * sent unchanged: everything else takes A1111's defaults (512x512, Euler a, CFG 7, random seed).
     */
    @Test
    void theA1111DocumentationExampleProducesAnImage() {
        ApiClient.Reply reply = client.postRaw("/sdapi/v1/txt2img", """
                {
                    "prompt": "puppy dog",
                    "steps": 5
                }""");
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        assertThat(reply.json().get("images")).hasSize(1);
        Png.Image image = reply.image(0);
        assertThat(image.width()).isEqualTo(512);
        assertThat(image.height()).isEqualTo(512);
        Infotext text = Infotext.parse(image.text().get("parameters"));
        assertThat(text.prompt()).isEqualTo("puppy dog");
        assertThat(text.get("Steps")).isEqualTo("5");
        assertThat(text.get("Sampler")).isEqualTo("Euler a");
        assertThat(text.get("CFG scale")).isEqualTo("7");
        assertThat(text.get("Size")).isEqualTo("512x512");
    }

    @Test
    void sendImagesFalseReturnsNoImages() {
        ObjectNode body = body(eulerACase());
        body.put("steps", 1);
        body.put("send_images", false);
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        assertThat(reply.json().get("images")).isEmpty();
        assertThat(reply.info().get("infotexts")).hasSize(1);
    }

    @Test
    void pngInfoReadsBackTheParameters() {
        ObjectNode body = body(eulerACase());
        body.put("steps", 1);
        ApiClient.Reply made = client.post("/sdapi/v1/txt2img", body);
        assertThat(made.status()).as(made.text()).isEqualTo(200);
        String infotext = made.image(0).text().get("parameters");

        ObjectNode ask = ApiClient.object();
        ask.put("image", "data:image/png;base64," + made.json().get("images").get(0).asText());
        ApiClient.Reply reply = client.post("/sdapi/v1/png-info", ask);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        assertThat(reply.json().get("info").asText()).isEqualTo(infotext);
        JsonNode p = reply.json().get("parameters");
        assertThat(p.get("Prompt").asText()).isEqualTo(body.get("prompt").asText());
        assertThat(p.get("Negative prompt").asText()).isEqualTo(body.get("negative_prompt").asText());
        assertThat(p.get("Steps").asText()).isEqualTo("1");
        assertThat(p.get("Sampler").asText()).isEqualTo("Euler a");
        assertThat(p.get("Size-1").asText()).isEqualTo("64");
        assertThat(p.get("Seed").asText()).isEqualTo(body.get("seed").asText());
    }

    @Test
    void pngInfoOfAnImageWithoutParameters() {
        byte[] png = Png.encode(8, 8, new byte[8 * 8 * 3], java.util.Map.of("Software", "test"));
        ObjectNode ask = ApiClient.object();
        ask.put("image", java.util.Base64.getEncoder().encodeToString(png));
        ApiClient.Reply reply = client.post("/sdapi/v1/png-info", ask);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        assertThat(reply.json().get("info").asText()).isEmpty();
        assertThat(reply.json().get("items").get("Software").asText()).isEqualTo("test");
        assertThat(reply.json().get("parameters")).isEmpty();
    }

    @Test
    void listsSamplersWhoseNamesAreAcceptedBack() {
        ApiClient.Reply reply = client.get("/sdapi/v1/samplers");
        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.json()).hasSize(io.jdiffusion.sampling.SamplerId.values().length);
        for (JsonNode s : reply.json()) {
            ObjectNode body = ApiClient.object();
            body.put("sampler_name", s.get("name").asText());
            RequestFields fields = RequestFields.of(body);
            assertThat(GenerationParams.sampler(fields).id).isEqualTo(s.get("aliases").get(0).asText());
        }
    }

    @Test
    void servesThePage() {
        ApiClient.Reply page = client.get("/");
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type").orElse("")).startsWith("text/html");
        assertThat(page.text()).contains("<script src=\"app.js\">").doesNotContain("http://").doesNotContain("https://");
        assertThat(client.get("/app.js").status()).isEqualTo(200);
        assertThat(client.get("/app.css").status()).isEqualTo(200);
    }
}
