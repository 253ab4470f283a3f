package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import io.jdiffusion.testing.TinySdxlRefiner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** A1111's {@code refiner_checkpoint} / {@code refiner_switch_at}: the SDXL base hands over to the refiner, as diffusers' reference does. */
class RefinerApiTest {
    @TempDir
    static Path models;
    private static JDiffusionServer server;
    private static ApiClient client;

    @BeforeAll
    static void start() {
        TinySdxlRefiner.copy(Fixtures.require("tiny-sdxl"), models.resolve("tiny-sdxl"));
        TinySdxlRefiner.assemble(models);
        server = JDiffusionServer.start(ServerOptions.of("tiny-sdxl", models).withPort(0).withWatermark(false));
        client = new ApiClient(server);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    /** The fixture's ensemble case that uses the default aesthetic scores (the API has no field for them). */
    private static ObjectNode body(JsonNode c) {
        assertThat(c.get("aesthetic_score").asDouble()).isEqualTo(6.0);
        assertThat(c.get("negative_aesthetic_score").asDouble()).isEqualTo(2.5);
        ObjectNode b = ApiClient.object();
        b.put("prompt", c.get("prompt").asText());
        b.put("negative_prompt", c.get("negative_prompt").asText());
        b.put("sampler_name", c.get("sampler").asText());
        b.put("steps", c.get("steps").asInt());
        b.put("cfg_scale", c.get("cfg_scale").asDouble());
        b.put("seed", c.get("seed").asLong());
        b.put("width", c.get("width").asInt());
        b.put("height", c.get("height").asInt());
        b.put("refiner_checkpoint", "tiny-sdxl-refiner");
        b.put("refiner_switch_at", c.get("switch_at").asDouble());
        return b;
    }

    @Test
    void theRefinerFinishesTheImageAsDiffusersDoes() {
        JsonNode c = TinySdxlRefiner.testCase("ensemble_dpmpp_2m");
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body(c));
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        Png.Image got = reply.image(0);
        Png.Image reference = Png.read(TinySdxlRefiner.fixture().resolve(c.get("outputs").get(0).asText()));
        assertThat(got.width()).isEqualTo(reference.width());
        ImageDelta.between(got.rgb(), reference.rgb()).assertWithinTolerance("refiner ensemble over HTTP");
        assertThat(got.text().get("parameters")).contains("Refiner: tiny-sdxl-refiner", "Refiner switch at: " + c.get("switch_at").asText());
    }

    @Test
    void badRefinerFieldsAre422s() {
        ObjectNode unknown = body(TinySdxlRefiner.testCase("ensemble_dpmpp_2m"));
        unknown.put("refiner_checkpoint", "nope");
        ApiClient.Reply r1 = client.post("/sdapi/v1/txt2img", unknown);
        assertThat(r1.status()).isEqualTo(422);
        assertThat(r1.json().get("field").asText()).isEqualTo("refiner_checkpoint");

        ObjectNode noStepLeft = body(TinySdxlRefiner.testCase("ensemble_dpmpp_2m"));
        noStepLeft.put("refiner_switch_at", 0.9999);
        ApiClient.Reply r2 = client.post("/sdapi/v1/txt2img", noStepLeft);
        assertThat(r2.status()).as(r2.text()).isEqualTo(422);
        assertThat(r2.json().get("field").asText()).isEqualTo("refiner_switch_at");

        ObjectNode withHires = body(TinySdxlRefiner.testCase("ensemble_dpmpp_2m"));
        withHires.put("enable_hr", true);
        ApiClient.Reply r3 = client.post("/sdapi/v1/txt2img", withHires);
        assertThat(r3.status()).isEqualTo(422);
        assertThat(r3.json().get("field").asText()).isEqualTo("refiner_checkpoint");
    }
}
