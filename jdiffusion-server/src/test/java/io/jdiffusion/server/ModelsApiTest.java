package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** --models-dir, GET /sdapi/v1/sd-models, and switching models through the options. */
class ModelsApiTest {
    @TempDir
    static Path models;
    private static Path tiny;
    private static boolean withFolder;
    private static JDiffusionServer server;
    private static ApiClient client;

    @BeforeAll
    static void start() throws IOException {
        tiny = Fixtures.require("tiny-sd15.safetensors").toAbsolutePath();
        Files.createDirectories(models.resolve("sub"));
        Files.copy(tiny, models.resolve("sub/first.safetensors"));
        Files.copy(tiny, models.resolve("second.safetensors"));
        Files.writeString(models.resolve("broken.safetensors"), "not a checkpoint");
        Files.writeString(models.resolve("notes.txt"), "not a model");
        Path folder = Fixtures.find("tiny-sd15");
        withFolder = folder != null && Files.isDirectory(folder);
        if (withFolder) copyFolder(folder, models.resolve("tiny-folder"));
        server = JDiffusionServer.start(ServerOptions.of("second", models).withPort(0).withWatermark(false));
        client = new ApiClient(server);
    }

    private static void copyFolder(Path from, Path to) throws IOException {
        try (var paths = Files.walk(from)) {
            for (Path p : paths.toList()) Files.copy(p, to.resolve(from.relativize(p).toString()));
        }
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static ObjectNode quickJob() {
        ObjectNode b = ApiClient.object();
        b.put("prompt", "a boat");
        b.put("steps", 1);
        b.put("seed", 3);
        b.put("width", 64);
        b.put("height", 64);
        return b;
    }

    private static String currentCheckpoint() {
        return client.get("/sdapi/v1/options").json().get("sd_model_checkpoint").asText();
    }

    private static ApiClient.Reply setOptions(String key, String value) {
        ObjectNode o = ApiClient.object();
        o.put(key, value);
        return client.post("/sdapi/v1/options", o);
    }

    @Test
    void listsCheckpointFilesAndDiffusersFoldersOnly() {
        ApiClient.Reply reply = client.get("/sdapi/v1/sd-models");
        assertThat(reply.status()).isEqualTo(200);
        List<String> names = reply.json().valueStream().map(m -> m.get("model_name").asText()).toList();
        if (withFolder) assertThat(names).containsExactly("broken", "second", "first", "tiny-folder");
        else assertThat(names).containsExactly("broken", "second", "first");
        JsonNode first = reply.json().valueStream().filter(m -> m.get("model_name").asText().equals("first")).findFirst().orElseThrow();
        assertThat(first.get("title").asText()).startsWith("sub/first.safetensors");
        assertThat(first.get("filename").asText()).isEqualTo(models.resolve("sub/first.safetensors").toAbsolutePath().toString());
    }

    @Test
    void startsWithTheModelNamedByModel() {
        assertThat(currentCheckpoint()).startsWith("second.safetensors");
    }

    @Test
    void optionsSwitchTheModelAndGenerationUsesIt() {
        assertThat(setOptions("sd_model_checkpoint", "sub/first.safetensors").status()).isEqualTo(200);
        assertThat(currentCheckpoint()).startsWith("sub/first.safetensors");
        ApiClient.Reply made = client.post("/sdapi/v1/txt2img", quickJob());
        assertThat(made.status()).as(made.text()).isEqualTo(200);
        assertThat(made.info().get("sd_model_name").asText()).isEqualTo("first");
        assertThat(Infotext.parse(made.image(0).text().get("parameters")).get("Model")).isEqualTo("first");

        // once used, its hash is known and is part of the title, as A1111 shows it
        String hash = Infotext.modelHash(tiny);
        assertThat(currentCheckpoint()).isEqualTo("sub/first.safetensors [" + hash + "]");
        assertThat(setOptions("sd_model_checkpoint", "second.safetensors").status()).isEqualTo(200);
        assertThat(setOptions("sd_model_checkpoint", "sub/first.safetensors [" + hash + "]").status()).isEqualTo(200);
        assertThat(currentCheckpoint()).startsWith("sub/first.safetensors");
        setOptions("sd_model_checkpoint", "second");
    }

    @Test
    void overrideSettingsPickTheModelOfOneRequest() {
        ObjectNode job = quickJob();
        job.putObject("override_settings").put("sd_model_checkpoint", "first");
        ApiClient.Reply made = client.post("/sdapi/v1/txt2img", job);
        assertThat(made.status()).as(made.text()).isEqualTo(200);
        assertThat(made.info().get("sd_model_name").asText()).isEqualTo("first");
        setOptions("sd_model_checkpoint", "second");
    }

    @Test
    void aModelThatCannotLoadIsA4xxAndTheLoadedOneStays() {
        String before = currentCheckpoint();
        ApiClient.Reply reply = setOptions("sd_model_checkpoint", "broken");
        assertThat(reply.status()).isEqualTo(422);
        assertThat(reply.json().get("field").asText()).isEqualTo("sd_model_checkpoint");
        assertThat(reply.json().get("detail").asText()).contains("broken");
        assertThat(currentCheckpoint()).isEqualTo(before);
        assertThat(client.post("/sdapi/v1/txt2img", quickJob()).status()).isEqualTo(200);
    }

    @Test
    void clipSkipOptionIsTheDefaultOfLaterRequests() {
        ObjectNode o = ApiClient.object();
        o.put("CLIP_stop_at_last_layers", 2);
        assertThat(client.post("/sdapi/v1/options", o).status()).isEqualTo(200);
        assertThat(client.get("/sdapi/v1/options").json().get("CLIP_stop_at_last_layers").asInt()).isEqualTo(2);
        ApiClient.Reply made = client.post("/sdapi/v1/txt2img", quickJob());
        o.put("CLIP_stop_at_last_layers", 1);
        client.post("/sdapi/v1/options", o);
        assertThat(made.status()).as(made.text()).isEqualTo(200);
        assertThat(Infotext.parse(made.image(0).text().get("parameters")).get("Clip skip")).isEqualTo("2");
        assertThat(made.info().get("clip_skip").asInt()).isEqualTo(2);
    }

    @Test
    void startupProblemsAreOneLineErrorsNamingTheFlag(@TempDir Path empty) {
        assertThatThrownBy(() -> JDiffusionServer.start(ServerOptions.of(null, empty).withPort(0)))
                .isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--models-dir:");
        assertThatThrownBy(() -> JDiffusionServer.start(ServerOptions.of("no-such-model", models).withPort(0)))
                .isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--model:");
        assertThatThrownBy(() -> JDiffusionServer.start(ServerOptions.of(tiny.toString(), null).withPort(server.port())))
                .isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--port:");
    }
}
