package io.jdiffusion.cli;

import io.jdiffusion.io.Png;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.HiresFix;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** txt2img's --hires* flags and every generating command's --preview-every / --preview-file. */
class HiresAndPreviewFlagsTest {
    @TempDir
    Path dir;

    private CliRun run(Txt2ImgCommand.Pipeline pipeline, String... args) {
        return CliRun.run(dir, pipeline, args);
    }

    /** Records the hires fix it is given and returns blank images of the size it would make. */
    private static final class Recorder implements Txt2ImgCommand.Pipeline {
        final AtomicReference<HiresFix> hires = new AtomicReference<>();
        boolean called;

        @Override
        public List<GeneratedImage> run(Txt2ImgRequest r, StepListener l) {
            return run(r, null, ModelAddons.NONE, l);
        }

        @Override
        public List<GeneratedImage> run(Txt2ImgRequest r, HiresFix h, ModelAddons a, StepListener l) {
            called = true;
            hires.set(h);
            int w = h == null ? r.width() : h.targetWidth(r.width()), hh = h == null ? r.height() : h.targetHeight(r.height());
            return List.of(new GeneratedImage(w, hh, new byte[w * hh * 3], r.seed(), null));
        }
    }

    private List<String> args(String... more) throws IOException {
        Path model = dir.resolve("m.safetensors");
        if (!Files.exists(model)) Files.createFile(model);
        List<String> a = new ArrayList<>(List.of("txt2img", "--model", model.toString(), "--prompt", "a fox", "--seed", "1",
                "--width", "64", "--height", "48", "--output", dir.resolve("out.png").toString()));
        a.addAll(List.of(more));
        return a;
    }

    @Test
    void hiresFlagsReachThePipelineWithA1111sDefaults() throws IOException {
        Recorder recorder = new Recorder();
        assertThat(run(recorder, args().toArray(String[]::new)).exitCode()).isZero();
        assertThat(recorder.hires.get()).isNull();

        assertThat(run(recorder, args("--hires").toArray(String[]::new)).exitCode()).isZero();
        assertThat(recorder.hires.get()).isEqualTo(new HiresFix(2, 0, 0.7, HiresFix.Upscaler.LATENT));

        CliRun r = run(recorder, args("--hires-scale", "1.5", "--hires-steps", "4", "--hires-denoise", "0.45",
                "--hires-upscaler", "lanczos").toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(recorder.hires.get()).isEqualTo(new HiresFix(1.5, 4, 0.45, HiresFix.Upscaler.LANCZOS));
        assertThat(Png.read(dir.resolve("out.png")).width()).isEqualTo(96);
    }

    @Test
    void badHiresAndPreviewFlagsAreOneLineErrorsBeforeAnyWork() throws IOException {
        for (String[] flags : new String[][]{{"--hires-upscaler", "esrgan"}, {"--hires-denoise", "0"}, {"--hires-scale", "0.5"},
                {"--hires-scale", "100"}, {"--hires-steps", "-2"}, {"--preview-every", "2"},
                {"--preview-every", "0", "--preview-file", "p.png"}, {"--preview-file", "no/such/folder/p.png"},
                {"--preview-file", "p.jpg"}}) {
            Recorder recorder = new Recorder();
            CliRun r = run(recorder, args(flags).toArray(String[]::new));
            assertThat(r.exitCode()).as(String.join(" ", flags)).isNotZero();
            assertThat(recorder.called).as(String.join(" ", flags)).isFalse();
            assertThat(r.err().strip()).as(String.join(" ", flags)).startsWith("error: " + flags[0])
                    .doesNotContain("\n");
        }
    }

    /** The real pipeline on the tiny model: a lanczos hires fix with previews, written as A1111 would describe it. */
    @Test
    void tinyModelHiresWithPreviews() throws IOException {
        Path output = dir.resolve("fox.png"), preview = dir.resolve("preview.png");
        CliRun r = run(null, "txt2img", "--model", Fixtures.tinySd15().toString(), "--prompt", "a fox", "--seed", "7",
                "--steps", "2", "--width", "32", "--height", "40", "--hires-steps", "2", "--hires-denoise", "0.5",
                "--hires-upscaler", "lanczos", "--preview-every", "3", "--preview-file", preview.toString(),
                "--output", output.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        Png.Image png = Png.read(output);
        assertThat(png.width()).isEqualTo(64);
        assertThat(png.height()).isEqualTo(80);
        Infotext info = Infotext.parse(png.text().get("parameters"));
        assertThat(info.get("Size")).isEqualTo("32x40");
        assertThat(info.get("Hires upscaler")).isEqualTo("Lanczos");
        assertThat(info.get("Denoising strength")).isEqualTo("0.5");
        // the last preview is of the hires pass's latents (1/8 of the output)
        Png.Image last = Png.read(preview);
        assertThat(last.width()).isEqualTo(8);
        assertThat(last.height()).isEqualTo(10);
    }
}
