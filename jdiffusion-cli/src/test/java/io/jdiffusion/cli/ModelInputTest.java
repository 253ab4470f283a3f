package io.jdiffusion.cli;

import io.jdiffusion.io.Png;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The real pipeline behind the command line: a checkpoint that is damaged in each of the ways users
 * meet gives one line naming the file and the problem, exit 1, no stack trace and no output file;
 * a good one writes the reference image with its parameters.
 */
class ModelInputTest {
    @TempDir
    Path dir;

    private CliRun run(String... args) {
        return CliRun.run(dir, null, args);
    }

    private Path output() {
        return dir.resolve("out").resolve("image.png");
    }

    private CliRun txt2img(Path model, String... extra) throws IOException {
        Files.createDirectories(output().getParent());
        List<String> args = new ArrayList<>(List.of("txt2img", "--model", model.toString(), "--prompt", "a cat",
                "--steps", "2", "--width", "64", "--height", "64", "--seed", "1", "--output", output().toString()));
        args.addAll(List.of(extra));
        return run(args.toArray(String[]::new));
    }

    private void assertRefused(CliRun r, String... fragments) throws IOException {
        assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
        List<String> lines = r.err().lines().toList();
        assertThat(lines).as("stderr").hasSize(1);
        assertThat(lines.getFirst()).startsWith("error: ").contains(fragments);
        assertThat(r.err()).as("no stack trace").doesNotContainPattern("(?m)^\\s+at ");
        try (Stream<Path> files = Files.list(output().getParent())) {
            assertThat(files).as("nothing written").isEmpty();
        }
    }

    /** A copy of the tiny SD 1.x checkpoint with some tensors replaced or removed. */
    private Path alteredCheckpoint(String name, Map<String, Weight> replace, String remove) {
        Map<String, Weight> tensors = new LinkedHashMap<>(
                SafeTensors.open(Fixtures.require("tiny-sd15.safetensors"), Arena.ofAuto()).tensors());
        if (remove != null) assertThat(tensors.remove(remove)).isNotNull();
        tensors.putAll(replace);
        Path file = dir.resolve(name);
        SafeTensorsWriter.write(file, tensors);
        return file;
    }

    @Test
    void truncatedFile() throws IOException {
        Path bad = Fixtures.require("untrusted/bad-truncated.safetensors");
        assertRefused(txt2img(bad), bad.toString(), "truncated");
    }

    @Test
    void headerLengthPastTheEnd() throws IOException {
        Path bad = Fixtures.require("untrusted/bad-header-length.safetensors");
        assertRefused(txt2img(bad), bad.toString(), "header length");
    }

    @Test
    void offsetsPastTheEnd() throws IOException {
        Path bad = Fixtures.require("untrusted/bad-offsets.safetensors");
        assertRefused(txt2img(bad), bad.toString(), "first_stage_model.post_quant_conv.bias");
    }

    @Test
    void offsetsInconsistentWithTheShape() throws IOException {
        Path file = dir.resolve("inconsistent.safetensors");
        writeRaw(file, "{\"w\":{\"dtype\":\"F16\",\"shape\":[4,4],\"data_offsets\":[0,16]}}", 16);
        assertRefused(txt2img(file), file.toString(), "'w'");
    }

    @Test
    void unknownDtype() throws IOException {
        Path file = dir.resolve("dtype.safetensors");
        writeRaw(file, "{\"w\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
        assertRefused(txt2img(file), file.toString(), "Q4");
    }

    @Test
    void missingTensor() throws IOException {
        Path file = alteredCheckpoint("missing.safetensors", Map.of(),
                "model.diffusion_model.input_blocks.1.0.in_layers.2.weight");
        assertRefused(txt2img(file), file.toString(), "missing");
    }

    @Test
    void wrongShape() throws IOException {
        String name = "model.diffusion_model.out.2.bias";
        Weight original = SafeTensors.open(Fixtures.require("tiny-sd15.safetensors"), Arena.ofAuto()).get(name);
        Weight wrong = Weight.ofFloats(name, new float[original.dim(0) + 1], original.dim(0) + 1);
        Path file = alteredCheckpoint("shape.safetensors", Map.of(name, wrong), null);
        assertRefused(txt2img(file), file.toString(), "shape");
    }

    @Test
    void unsupportedFamily() throws IOException {
        Path file = dir.resolve("sd3.safetensors");
        SafeTensorsWriter.write(file, Map.of(
                "model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight", Weight.ofFloats("a", new float[6], 3, 2),
                "model.diffusion_model.x_embedder.proj.weight", Weight.ofFloats("b", new float[4], 4)));
        assertRefused(txt2img(file), file.toString(), "not supported");
    }

    @Test
    void aGoodCheckpointWritesTheReferenceImage() throws IOException {
        Path model = Fixtures.require("tiny-sd15.safetensors");
        Path expected = Fixtures.require("tiny-sd15-ref/txt2img_euler_a.png");
        Files.createDirectories(output().getParent());
        CliRun r = run("txt2img", "--model", model.toString(), "--prompt", "a photograph of an astronaut riding a horse",
                "--negative-prompt", "blurry, low quality", "--sampler", "Euler a", "--steps", "4", "--cfg-scale", "7.5",
                "--seed", "103", "--width", "64", "--height", "64", "--output", output().toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        Png.Image image = Png.read(output());
        Png.Image reference = Png.read(expected);
        int max = 0;
        for (int i = 0; i < image.rgb().length; i++) {
            max = Math.max(max, Math.abs((image.rgb()[i] & 0xff) - (reference.rgb()[i] & 0xff)));
        }
        assertThat(max).as("max |Δ| in levels").isLessThanOrEqualTo(4);
        assertThat(image.text().get("parameters"))
                .startsWith("a photograph of an astronaut riding a horse\nNegative prompt: blurry, low quality\n")
                .contains("Steps: 4, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.5, Seed: 103, Size: 64x64");
    }

    private static void writeRaw(Path file, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        byte[] bytes = new byte[8 + h.length + dataBytes];
        long n = h.length;
        for (int i = 0; i < 8; i++) bytes[i] = (byte) (n >>> (8 * i));
        System.arraycopy(h, 0, bytes, 8, h.length);
        Files.write(file, bytes);
    }
}
