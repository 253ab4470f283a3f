package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A1111 clients put LoRAs in the prompt ({@code <lora:NAME:WEIGHT>}): with {@code --models-dir} naming an A1111
 * folder the server finds them in models/Lora and applies them, as A1111 does; its checkpoints are those of
 * models/Stable-diffusion only.
 */
class ExtraNetworksApiTest {
    @TempDir
    static Path webui;
    private static JDiffusionServer server;
    private static ApiClient client;

    @BeforeAll
    static void start() throws IOException {
        Path checkpoints = Files.createDirectories(webui.resolve("models/Stable-diffusion"));
        Files.copy(Fixtures.require("tiny-sd15.safetensors"), checkpoints.resolve("tiny.safetensors"));
        Path loras = Files.createDirectories(webui.resolve("models/Lora"));
        Files.copy(Fixtures.require("tiny-sd15-ref/lora-attn.safetensors"), loras.resolve("lora-attn.safetensors"));
        server = JDiffusionServer.start(ServerOptions.of(null, webui).withPort(0).withWatermark(false));
        client = new ApiClient(server);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static JsonNode loraCase() {
        return Fixtures.cases("lora").stream().filter(c -> c.get("id").asText().equals("lora")).findFirst().orElseThrow();
    }

    private static ObjectNode body(JsonNode c, String prompt) {
        return Txt2ImgApiTest.body(c).put("prompt", prompt);
    }

    @Test
    void aLoraTagInThePromptGivesTheReferenceImage() {
        JsonNode c = loraCase();
        String prompt = c.get("prompt").asText() + "<lora:lora-attn:" + c.get("weight").asText() + ">";
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body(c, prompt));
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        Png.Image got = reply.image(0), reference = Png.read(Fixtures.require(c.get("image").asText()));
        assertThat(ImageDelta.between(got.rgb(), reference.rgb()).mean()).as("mean |Δ| to the LoRA reference").isLessThanOrEqualTo(0.5);
        assertThat(got.text().get("parameters")).as("the tag stays in the infotext's prompt").startsWith(prompt + "\n");

        // the same job without the tag is the base image again: the LoRA is not left on the model
        ApiClient.Reply plain = client.post("/sdapi/v1/txt2img", body(c, c.get("prompt").asText()));
        assertThat(plain.status()).as(plain.text()).isEqualTo(200);
        Png.Image base = Png.read(Fixtures.require(c.get("base_image").asText()));
        assertThat(ImageDelta.between(plain.image(0).rgb(), base.rgb()).mean()).as("mean |Δ| to the base reference").isLessThanOrEqualTo(0.5);
    }

    @Test
    void aTagNamingNothingIsA422OnThePrompt() {
        ApiClient.Reply reply = client.post("/sdapi/v1/txt2img", body(loraCase(), "a fox <lora:nope:1>"));
        assertThat(reply.status()).isEqualTo(422);
        assertThat(reply.json().get("field").asText()).isEqualTo("prompt");
        assertThat(reply.json().get("detail").asText()).contains("nope");
    }

    @Test
    void onlyTheCheckpointsFolderHoldsModels() {
        ApiClient.Reply reply = client.get("/sdapi/v1/sd-models");
        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.json()).hasSize(1);
        assertThat(reply.json().get(0).get("model_name").asText()).isEqualTo("tiny");
    }
}
