package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jdiffusion bench} in-process on the tiny model: the report's form, not its (machine-dependent) numbers. */
class BenchCommandTest {

    @TempDir
    Path dir;

    private CliRun run(String... args) {
        return CliRun.run(dir, null, args);
    }

    @Test
    void jsonIsOneObjectWithTheDocumentedFields() throws Exception {
        Path model = Fixtures.require("tiny-sd15.safetensors");

        CliRun r = run("bench", "--model", model.toString(), "--width", "64", "--height", "64", "--steps", "1",
                "--threads", "1", "--json");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().lines()).hasSize(1);
        JsonNode o = new ObjectMapper().readTree(r.out());
        List<String> fields = new ArrayList<>();
        o.fieldNames().forEachRemaining(fields::add);
        assertThat(fields).containsExactly("arch", "width", "height", "threads", "text_encode_s", "unet_step_s",
                "vae_decode_s", "unet_gflops", "peak_rss_mb");
        assertThat(o.get("arch").asText()).isEqualTo("sd15");
        assertThat(o.get("width").asInt()).isEqualTo(64);
        assertThat(o.get("height").asInt()).isEqualTo(64);
        assertThat(o.get("threads").asInt()).isEqualTo(1);
        for (String timed : List.of("text_encode_s", "unet_step_s", "vae_decode_s", "unet_gflops")) {
            assertThat(o.get(timed).asDouble()).as(timed).isPositive();
        }
        // the report goes to stderr with the progress lines
        assertThat(r.err()).contains("UNet step:", "TFLOP/step", "peak RSS:");
        // the heap a step allocates: a 64x64 image's UNet step at batch 2 makes some MiB of new arrays
        String heap = r.err().lines().filter(l -> l.startsWith("UNet heap:")).findFirst().orElseThrow();
        assertThat(Double.parseDouble(heap.replaceAll("^UNet heap: +([0-9.]+) MiB.*$", "$1"))).isPositive();
    }

    @Test
    void unknownArchitectureIsOneLineError() {
        CliRun r = run("bench", "--arch", "sd99");

        assertThat(r.exitCode()).isEqualTo(Main.EXIT_USER_ERROR);
        assertThat(r.err().lines().toList()).containsExactly("error: --arch: 'sd99' is not one of sd15, sd21, sdxl");
    }

    @Test
    void sizeThatIsNoMultipleOfEightIsRefusedBeforeAnythingRuns() {
        CliRun r = run("bench", "--arch", "sd15", "--width", "100");

        assertThat(r.exitCode()).isEqualTo(Main.EXIT_USER_ERROR);
        assertThat(r.err().lines().toList()).containsExactly("error: --width: 100 is not a multiple of 8 in 64..4096");
    }
}
