package io.jdiffusion.cli;

import io.jdiffusion.hub.HubSettings;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** --model owner/name and the default model, with the Hub offline so that only the cache answers. */
class HubModelCommandTest {
    private static final String COMMIT = "feedfacefeedfacefeedfacefeedfacefeedface";

    @TempDir
    Path dir;

    private final AtomicReference<Txt2ImgRequest> received = new AtomicReference<>();
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir, (r, listener) -> {
            received.set(r);
            return List.of(new GeneratedImage(r.width(), r.height(), new byte[r.width() * r.height() * 3], r.seed(), null));
        });
        // offline, against a cache in the temp folder: the real Hub is never asked
        ((Txt2ImgCommand) cl.getSubcommands().get("txt2img").getCommand()).options.hubSettings =
                () -> new HubSettings(URI.create("http://127.0.0.1:9"), null, true, dir.resolve("hub"));
        return cl.execute(args);
    }

    /** A cached snapshot as huggingface_hub leaves it (here with plain files; the layout is what matters). */
    private Path cachedSnapshot(String repoFolder) throws IOException {
        Path repo = dir.resolve("hub").resolve(repoFolder);
        Path snapshot = repo.resolve("snapshots").resolve(COMMIT);
        for (String file : new String[]{"unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors", "vae/config.json",
                "vae/diffusion_pytorch_model.fp16.safetensors", "text_encoder/config.json", "text_encoder/model.fp16.safetensors"}) {
            Files.createDirectories(snapshot.resolve(file).getParent());
            Files.writeString(snapshot.resolve(file), "{}");
        }
        Files.writeString(snapshot.resolve("model_index.json"), "{\"unet\":[\"diffusers\",\"UNet2DConditionModel\"],"
                + "\"vae\":[\"diffusers\",\"AutoencoderKL\"],\"text_encoder\":[\"transformers\",\"CLIPTextModel\"]}");
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), COMMIT);
        return snapshot;
    }

    @Test
    void withoutModelTheDefaultIsTakenWithTheTurboRecipe() throws IOException {
        Path snapshot = cachedSnapshot("models--stabilityai--sd-turbo");

        int code = run("txt2img", "--prompt", "an astronaut riding a horse", "--seed", "1", "--output", dir.resolve("a.png").toString());

        assertThat(code).as(err.toString()).isZero();
        assertThat(received.get().model()).isEqualTo(snapshot);
        assertThat(received.get().steps()).isEqualTo(1);
        assertThat(received.get().cfgScale()).isZero();
        assertThat(received.get().sampler()).isEqualTo("euler_a");
    }

    @Test
    void theTurboRecipeGivesWayToTheUsersSettings() throws IOException {
        cachedSnapshot("models--stabilityai--sd-turbo");

        assertThat(run("txt2img", "--prompt", "a fox", "--seed", "1", "--steps", "4", "--cfg-scale", "1.5",
                "--output", dir.resolve("a.png").toString())).as(err.toString()).isZero();

        assertThat(received.get().steps()).isEqualTo(4);
        assertThat(received.get().cfgScale()).isEqualTo(1.5);
    }

    @Test
    void aRepositoryIdResolvesToItsCachedSnapshotWithTheUsualDefaults() throws IOException {
        Path snapshot = cachedSnapshot("models--someone--my-model");

        assertThat(run("txt2img", "--model", "someone/my-model", "--prompt", "a fox", "--seed", "1",
                "--output", dir.resolve("a.png").toString())).as(err.toString()).isZero();

        assertThat(received.get().model()).isEqualTo(snapshot);
        assertThat(received.get().steps()).isEqualTo(20);
    }

    @Test
    void aRepositoryNotInTheCacheOfflineIsOneErrorLine() {
        int code = run("txt2img", "--model", "someone/missing", "--prompt", "a fox");

        assertThat(code).isEqualTo(Main.EXIT_USER_ERROR);
        assertThat(err.toString().strip()).startsWith("error: someone/missing: not in the cache").contains("HF_HUB_OFFLINE").doesNotContain("\n");
        assertThat(received.get()).isNull();
    }
}
