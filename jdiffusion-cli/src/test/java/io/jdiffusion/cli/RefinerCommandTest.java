package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.pipeline.AestheticScores;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Refiner;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import io.jdiffusion.testing.TinySdxlRefiner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * txt2img's --refiner / --refiner-switch-at and the refiner's --aesthetic-score / --negative-aesthetic-score: the
 * flags reach the pipeline, mistakes are one line, and with the real pipeline on the tiny models the command
 * writes diffusers' images (the ensemble of experts, and img2img with the refiner).
 */
class RefinerCommandTest {
    @TempDir
    Path dir;

    private CliRun run(Txt2ImgCommand.Pipeline pipeline, List<String> args) {
        return CliRun.run(dir, pipeline, args.toArray(String[]::new));
    }

    /** Records what it is asked to run and returns a blank image. */
    private static final class Recorder implements Txt2ImgCommand.Pipeline {
        Txt2ImgRequest request;
        Refiner.Settings refiner;

        @Override
        public List<GeneratedImage> run(Txt2ImgRequest r, StepListener l) {
            request = r;
            return List.of(new GeneratedImage(r.width(), r.height(), new byte[r.width() * r.height() * 3], r.seed(), null));
        }

        @Override
        public List<GeneratedImage> runWithRefiner(Txt2ImgRequest r, Refiner.Settings settings, ModelAddons a, StepListener l) {
            refiner = settings;
            return run(r, l);
        }
    }

    private List<String> args(String... more) throws IOException {
        Path model = dir.resolve("m.safetensors"), refiner = dir.resolve("refiner.safetensors");
        if (!Files.exists(model)) Files.createFile(model);
        if (!Files.exists(refiner)) Files.createFile(refiner);
        List<String> a = new ArrayList<>(List.of("txt2img", "--model", model.toString(), "--prompt", "a fox", "--seed", "1",
                "--width", "64", "--height", "64", "--output", dir.resolve("out.png").toString()));
        a.addAll(List.of(more));
        return a;
    }

    @Test
    void refinerFlagsReachThePipeline() throws IOException {
        Recorder recorder = new Recorder();
        Path refiner = dir.resolve("refiner.safetensors");
        CliRun r = run(recorder, args("--refiner", refiner.toString()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(recorder.refiner).isEqualTo(new Refiner.Settings(refiner, 0.8));
        assertThat(recorder.request.aestheticScores()).isNull();

        r = run(recorder, args("--refiner", refiner.toString(), "--refiner-switch-at", "0.7", "--aesthetic-score", "7",
                "--negative-aesthetic-score", "1.5"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(recorder.refiner).isEqualTo(new Refiner.Settings(refiner, 0.7));
        assertThat(recorder.request.aestheticScores()).isEqualTo(new AestheticScores(7, 1.5));

        r = run(recorder, args("--negative-aesthetic-score", "3"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(recorder.request.aestheticScores()).isEqualTo(new AestheticScores(AestheticScores.DEFAULT.positive(), 3));
    }

    @Test
    void mistakesAreOneLine() throws IOException {
        String refiner = dir.resolve("refiner.safetensors").toString();
        assertOneLineError(args("--refiner-switch-at", "0.5"), "--refiner-switch-at: give --refiner MODEL too");
        assertOneLineError(args("--refiner", refiner, "--refiner-switch-at", "1.5"), "--refiner-switch-at: 1.5 is outside (0, 1)");
        assertOneLineError(args("--refiner", refiner, "--hires"), "--refiner: not supported together with the hires fix");
        assertOneLineError(args("--refiner", dir.resolve("missing.safetensors").toString()), "--refiner: ");
        assertOneLineError(args("--aesthetic-score", "12"), "--aesthetic-score: 12");
    }

    private void assertOneLineError(List<String> args, String start) {
        Recorder recorder = new Recorder();
        CliRun r = run(recorder, args);
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).startsWith("error: " + start).doesNotContain("\n");
        assertThat(recorder.request).isNull();
    }

    @Test
    void txt2imgWithTheRefinerWritesTheReferenceImage() throws IOException {
        Path fixture = TinySdxlRefiner.fixture(), refiner = TinySdxlRefiner.assemble(dir);
        JsonNode c = TinySdxlRefiner.testCase("ensemble_euler_a");
        Path output = dir.resolve("ensemble.png");
        CliRun r = run(null, List.of("txt2img", "--model", Fixtures.require("tiny-sdxl").toString(), "--refiner", refiner.toString(),
                "--refiner-switch-at", c.get("switch_at").asText(), "--prompt", c.get("prompt").asText(),
                "--negative-prompt", c.get("negative_prompt").asText(), "--sampler", c.get("sampler").asText(),
                "--steps", c.get("steps").asText(), "--cfg-scale", c.get("cfg_scale").asText(), "--seed", c.get("seed").asText(),
                "--width", c.get("width").asText(), "--height", c.get("height").asText(),
                "--aesthetic-score", c.get("aesthetic_score").asText(), "--negative-aesthetic-score", c.get("negative_aesthetic_score").asText(),
                "--no-watermark", "--output", output.toString()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        ImageDelta.between(output, fixture.resolve(c.get("outputs").get(0).asText())).assertWithinTolerance(c.get("name").asText());
    }

    @Test
    void img2imgWithTheRefinerWritesTheReferenceImage() throws IOException {
        Path fixture = TinySdxlRefiner.fixture(), refiner = TinySdxlRefiner.assemble(dir);
        JsonNode c = TinySdxlRefiner.testCase("refiner_img2img_euler");
        Path output = dir.resolve("refined.png");
        // the aesthetic scores are the defaults: no flag
        CliRun r = run(null, List.of("img2img", "--model", refiner.toString(), "--init-image", fixture.resolve(c.get("input").asText()).toString(),
                "--strength", c.get("strength").asText(), "--prompt", c.get("prompt").asText(),
                "--negative-prompt", c.get("negative_prompt").asText(), "--sampler", c.get("sampler").asText(),
                "--steps", c.get("steps").asText(), "--cfg-scale", c.get("cfg_scale").asText(), "--seed", c.get("seed").asText(),
                "--no-watermark", "--output", output.toString()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        ImageDelta.between(output, fixture.resolve(c.get("outputs").get(0).asText())).assertWithinTolerance(c.get("name").asText());
    }
}
