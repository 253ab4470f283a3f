package io.jdiffusion.cli;

import io.jdiffusion.hub.HubSettings;
import io.jdiffusion.io.Png;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** --vae with a TAESD (a path, or the word taesd for the Hub's), and --preview taesd, on the tiny models. */
class TaesdFlagsTest {
    private static final String COMMIT = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";

    @TempDir
    Path dir;

    record Result(int exitCode, String out, String err) {
    }

    /** Runs the command with the real pipeline (or {@code pipeline}) and the Hub offline, its cache in the temp folder. */
    private Result run(Txt2ImgCommand.Pipeline pipeline, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = pipeline == null ? Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir)
                : Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir, pipeline);
        ((Txt2ImgCommand) cl.getSubcommands().get("txt2img").getCommand()).options.hubSettings =
                () -> new HubSettings(URI.create("http://127.0.0.1:9"), null, true, dir.resolve("hub"));
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    /** The tiny TAESD as the Hub's repository would sit in the cache. */
    private Path cachedTaesd(String repoFolder) throws IOException {
        Path repo = dir.resolve("hub").resolve(repoFolder);
        Path snapshot = Files.createDirectories(repo.resolve("snapshots").resolve(COMMIT));
        Path tiny = Generated.require("taesd/tiny-taesd");
        for (String file : new String[]{"config.json", "diffusion_pytorch_model.safetensors"}) {
            Files.copy(tiny.resolve(file), snapshot.resolve(file));
        }
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), COMMIT);
        return snapshot;
    }

    private List<String> txt2img(Path output, String... more) {
        List<String> args = new ArrayList<>(List.of("txt2img", "--model", Fixtures.require("tiny-sd15.safetensors").toString(),
                "--prompt", "a fox", "--seed", "5", "--steps", "2", "--sampler", "euler", "--width", "64", "--height", "48",
                "--no-watermark", "--output", output.toString()));
        args.addAll(List.of(more));
        return args;
    }

    @Test
    void vaeTaesdFolderDecodesAnImageOfTheRequestedSize() {
        Path out = dir.resolve("fox.png");
        Result r = run(null, txt2img(out, "--vae", Generated.require("taesd/tiny-taesd").toString()).toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isZero();
        Png.Image image = Png.read(out);
        assertThat(image.width()).isEqualTo(64);
        assertThat(image.height()).isEqualTo(48);
        assertThat(Infotext.parse(image.text().get("parameters")).get("VAE")).isEqualTo("tiny-taesd");
    }

    @Test
    void theWordTaesdTakesTheHubsTaesdFromTheCache() throws IOException {
        cachedTaesd("models--madebyollin--taesd");
        Path out = dir.resolve("fox.png");
        Result r = run(null, txt2img(out, "--vae", "taesd").toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isZero();
        Png.Image image = Png.read(out);
        assertThat(image.width()).isEqualTo(64);
        assertThat(Infotext.parse(image.text().get("parameters")).get("VAE")).isEqualTo("taesd");
    }

    @Test
    void sdxlModelsGetTaesdxl() throws IOException {
        Path sdxl = Fixtures.require("tiny-sdxl");
        cachedTaesd("models--madebyollin--taesd");
        Path taesdxl = cachedTaesd("models--madebyollin--taesdxl");
        AtomicReference<ModelAddons> addons = new AtomicReference<>();
        Txt2ImgCommand.Pipeline recorder = new Txt2ImgCommand.Pipeline() {
            @Override
            public List<GeneratedImage> run(Txt2ImgRequest r, StepListener l) {
                throw new AssertionError("the add-on method must be called");
            }

            @Override
            public List<GeneratedImage> run(Txt2ImgRequest r, ModelAddons a, StepListener l) {
                addons.set(a);
                return List.of(new GeneratedImage(r.width(), r.height(), new byte[r.width() * r.height() * 3], r.seed(), null));
            }
        };
        Result r = run(recorder, "txt2img", "--model", sdxl.toString(), "--prompt", "a fox", "--vae", "taesd", "--width", "64",
                "--height", "64", "--output", dir.resolve("x.png").toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(addons.get().vae()).isEqualTo(taesdxl);
    }

    @Test
    void previewTaesdWritesFullSizePreviews() throws IOException {
        cachedTaesd("models--madebyollin--taesd");
        Path out = dir.resolve("fox.png"), preview = dir.resolve("preview.png");
        // the model's own VAE decodes; the Hub's TAESD draws the previews
        Result r = run(null, txt2img(out, "--preview", "taesd", "--preview-every", "1", "--preview-file", preview.toString())
                .toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isZero();
        Png.Image image = Png.read(preview);
        assertThat(image.width()).isEqualTo(64);
        assertThat(image.height()).isEqualTo(48);
        assertThat(Infotext.parse(Png.read(out).text().get("parameters")).get("VAE")).isNull();

        // the linear previews stay at latent size
        Result linear = run(null, txt2img(out, "--preview-every", "1", "--preview-file", preview.toString()).toArray(String[]::new));
        assertThat(linear.exitCode()).as(linear.err()).isZero();
        assertThat(Png.read(preview).width()).isEqualTo(8);
    }

    @Test
    void aBrokenTaesdFileIsOneLineNamingIt() {
        Map<String, Weight> tensors = new LinkedHashMap<>(SafeTensors.open(Generated.require("taesd/taesd_decoder.safetensors")).tensors());
        tensors.remove("4.conv.2.weight");
        Path bad = dir.resolve("broken_decoder.safetensors");
        SafeTensorsWriter.write(bad, tensors);

        Result r = run(null, txt2img(dir.resolve("x.png"), "--vae", bad.toString()).toArray(String[]::new));

        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).contains(bad.toString()).contains("decoder.layers.3.conv.2.weight").doesNotContain("\n");
        assertThat(dir.resolve("x.png")).doesNotExist();
    }

    @Test
    void anUnknownPreviewKindIsRefused() {
        Result r = run(null, txt2img(dir.resolve("x.png"), "--preview", "fancy").toArray(String[]::new));
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).contains("--preview").contains("fancy").doesNotContain("\n");
    }
}
