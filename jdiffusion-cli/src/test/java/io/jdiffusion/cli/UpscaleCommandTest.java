package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.model.Json;
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

/** {@code jdiffusion upscale} on the tiny x4 upscaler (core's generated/tiny-sd-x4-upscaler): the reference image, and one-line errors. */
class UpscaleCommandTest {
    @TempDir
    Path dir;

    private CliRun run(List<String> args) {
        return CliRun.run(dir, null, args.toArray(String[]::new));
    }

    private Path output() throws IOException {
        return Files.createDirectories(dir.resolve("out")).resolve("image.png");
    }

    private static Path folder() {
        return Generated.dir("tiny-sd-x4-upscaler");
    }

    private static JsonNode fixtureCase(String name) {
        for (JsonNode c : Json.read(folder().resolve("cases.json")).get("cases")) {
            if (c.get("name").asText().equals(name)) return c;
        }
        throw new IllegalArgumentException(name);
    }

    /** The case's flags, without --sampler (the command's default is the model's DDIM). */
    private List<String> caseArgs(JsonNode c, Path model) throws IOException {
        return new ArrayList<>(List.of("upscale", "--model", model.toString(),
                "--init-image", folder().resolve(c.get("input").asText()).toString(),
                "--prompt", c.get("prompt").asText(), "--negative-prompt", c.get("negative_prompt").asText(),
                "--steps", c.get("steps").asText(), "--cfg-scale", c.get("cfg_scale").asText(),
                "--noise-level", c.get("noise_level").asText(), "--seed", c.get("seed").asText(),
                "--no-watermark", "--output", output().toString()));
    }

    @Test
    void givesTheReferenceImageWithTheModelsOwnSampler() throws IOException {
        JsonNode c = fixtureCase("upscale_ddim");
        assertThat(c.get("sampler").asText()).isEqualTo(UpscaleCommand.DEFAULT_SAMPLER);
        CliRun r = run(caseArgs(c, folder()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo(output().toString());
        ImageDelta.between(output(), folder().resolve(c.get("outputs").get(0).asText())).assertWithinTolerance("upscale_ddim via the CLI");
        Infotext info = Infotext.parse(Png.read(output()).text().get("parameters"));
        assertThat(info.get("Size")).isEqualTo(c.get("output_size").get(0).asInt() + "x" + c.get("output_size").get(1).asInt());
        assertThat(info.get("Noise level")).isEqualTo(c.get("noise_level").asText());
        assertThat(info.get("Sampler")).isEqualTo("DDIM");
    }

    @Test
    void anOrdinaryModelIsRefusedInOneLine() throws IOException {
        CliRun r = run(caseArgs(fixtureCase("upscale_ddim"), Fixtures.tinySd15()));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("error: ").contains("not an upscaler model");
        assertThat(output()).doesNotExist();
    }

    @Test
    void aNoiseLevelAboveTheMaximumIsRefusedInOneLine() throws IOException {
        int max = Json.read(folder().resolve("model_index.json")).get("max_noise_level").asInt();
        List<String> args = caseArgs(fixtureCase("upscale_ddim"), folder());
        args.set(args.indexOf("--noise-level") + 1, Integer.toString(max + 1));
        CliRun r = run(args);
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").contains("--noise-level: " + (max + 1)).contains("max_noise_level " + max);
        assertThat(output()).doesNotExist();
    }

    @Test
    void theModelMustBeGiven() throws IOException {
        List<String> args = caseArgs(fixtureCase("upscale_ddim"), folder());
        args.subList(1, 3).clear();
        CliRun r = run(args);
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("error: ").contains("--model");
    }

    @Test
    void helpShowsTheUpscalersDefaults() {
        CliRun r = run(List.of("upscale", "--help"));
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("(default: " + UpscaleCommand.DEFAULT_SAMPLER + ",").contains("--noise-level").doesNotContain("sd-turbo");
    }
}
