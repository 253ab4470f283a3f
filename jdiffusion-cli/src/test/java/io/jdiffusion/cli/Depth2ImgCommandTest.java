package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jdiffusion depth2img} on the tiny SD 2 depth model: the reference images, and one-line errors. */
class Depth2ImgCommandTest {
    @TempDir
    Path dir;

    private CliRun run(List<String> args) {
        return CliRun.run(dir, null, args.toArray(String[]::new));
    }

    private Path output() throws IOException {
        return Files.createDirectories(dir.resolve("out")).resolve("image.png");
    }

    private static JsonNode fixtureCase(String id) {
        return Fixtures.cases().stream().filter(c -> id.equals(c.path("id").asText())).findFirst().orElseThrow();
    }

    private static Path model(String layout) {
        JsonNode m = Fixtures.cases("model").stream().filter(c -> c.get("name").asText().equals("tiny-sd2-depth")).findFirst().orElseThrow();
        return Fixtures.require(m.get(layout).asText());
    }

    private List<String> caseArgs(JsonNode c, Path model) throws IOException {
        return new ArrayList<>(List.of("depth2img", "--model", model.toString(),
                "--init-image", Fixtures.require(c.get("init_image").asText()).toString(),
                "--strength", c.get("strength").asText(), "--prompt", c.get("prompt").asText(),
                "--negative-prompt", c.get("negative_prompt").asText(), "--sampler", c.get("sampler").asText(),
                "--steps", c.get("num_inference_steps").asText(), "--cfg-scale", c.get("guidance_scale").asText(),
                "--seed", c.get("seed").asText(), "--no-watermark", "--output", output().toString()));
    }

    @Test
    void sixteenBitDepthMapGivesTheReferenceImage() throws IOException {
        JsonNode c = fixtureCase("depth2img_ddim");
        List<String> args = caseArgs(c, model("single_file"));
        args.addAll(List.of("--depth-map", Fixtures.require(c.get("depth_map_png").asText()).toString()));
        CliRun r = run(args);
        assertThat(r.exitCode()).as(r.err()).isZero();
        ImageDelta.between(output(), Fixtures.require(c.get("image").asText())).assertWithinTolerance("depth2img_ddim");
        Infotext info = Infotext.parse(Png.read(output()).text().get("parameters"));
        assertThat(info.get("Denoising strength")).isEqualTo("0.8");
        assertThat(info.get("Depth")).isEqualTo("map");
    }

    @Test
    void estimatedDepthGivesTheReferenceImage() throws IOException {
        JsonNode c = fixtureCase("depth2img_ddim_estimated");
        CliRun r = run(caseArgs(c, model("diffusers_dir")));
        assertThat(r.exitCode()).as(r.err()).isZero();
        ImageDelta.between(output(), Fixtures.require(c.get("image").asText())).assertWithinTolerance("depth2img_ddim_estimated");
        assertThat(Infotext.parse(Png.read(output()).text().get("parameters")).get("Depth")).isEqualTo("estimated");
    }

    @Test
    void aDptHybridDepthModelEstimatesTheDepth() throws IOException {
        // the tiny DPT-Hybrid (the published model's estimator type; its parity is DptHybridParityTest's)
        JsonNode c = fixtureCase("depth2img_ddim_estimated");
        List<String> args = caseArgs(c, model("single_file"));
        args.addAll(List.of("--depth-model", Generated.dir("tiny-dpt-hybrid").toString()));
        CliRun r = run(args);
        assertThat(r.exitCode()).as(r.err()).isZero();
        Png.Image png = Png.read(output());
        assertThat(png.width()).isEqualTo(c.get("width").asInt());
        assertThat(png.height()).isEqualTo(c.get("height").asInt());
        assertThat(Infotext.parse(png.text().get("parameters")).get("Depth")).isEqualTo("estimated");
    }

    @Test
    void aSingleFileWithoutDepthIsOneLineError() throws IOException {
        CliRun r = run(caseArgs(fixtureCase("depth2img_ddim"), model("single_file")));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").contains("--depth-map").contains("--depth-model");
        assertThat(output()).doesNotExist();
    }

    @Test
    void anOrdinaryModelIsRefused() throws IOException {
        List<String> args = caseArgs(fixtureCase("depth2img_ddim"), Fixtures.tinySd15());
        args.addAll(List.of("--depth-map", Fixtures.require("tiny-sd2-depth-ref/depth_map.png").toString()));
        CliRun r = run(args);
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").contains("depth model");
        assertThat(output()).doesNotExist();
    }

    @Test
    void aMissingDepthMapIsOneLineError() throws IOException {
        List<String> args = caseArgs(fixtureCase("depth2img_ddim"), model("diffusers_dir"));
        args.addAll(List.of("--depth-map", dir.resolve("nothing.png").toString()));
        CliRun r = run(args);
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").contains("--depth-map").contains("no such file");
    }
}
