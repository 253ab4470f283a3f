package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code --embedding TOKEN=FILE} and {@code --embeddings-dir DIR} on txt2img, with the real pipeline. */
class EmbeddingFlagsTest {
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter(), err = new StringWriter();

    private int run(List<String> args) {
        return Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir).execute(args.toArray(String[]::new));
    }

    private Path output() throws IOException {
        return Files.createDirectories(dir.resolve("out")).resolve("image.png");
    }

    private static JsonNode theCase() {
        return Fixtures.cases("textual_inversion").getFirst();
    }

    private List<String> txt2img(JsonNode c, String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("txt2img", "--model", Fixtures.tinySd15().toString(),
                "--prompt", c.get("prompt").asText(), "--negative-prompt", c.get("negative_prompt").asText(),
                "--sampler", c.get("sampler").asText(), "--steps", c.get("num_inference_steps").asText(),
                "--cfg-scale", c.get("guidance_scale").asText(), "--seed", c.get("seed").asText(),
                "--width", c.get("width").asText(), "--height", c.get("height").asText(),
                "--no-watermark", "--output", output().toString()));
        args.addAll(List.of(extra));
        return args;
    }

    private void assertReference(JsonNode c) throws IOException {
        ImageDelta.between(output(), Fixtures.require(c.get("image").asText())).assertWithinTolerance(c.get("id").asText());
    }

    @Test
    void embeddingFlagGivesTheReferenceImage() throws IOException {
        JsonNode c = theCase();
        Path file = Fixtures.require(c.get("embedding").asText());
        assertThat(run(txt2img(c, "--embedding", c.get("token").asText() + "=" + file))).as(err.toString()).isZero();
        assertReference(c);
    }

    @Test
    void embeddingsDirNamesEachByItsFile() throws IOException {
        JsonNode c = theCase();
        Path folder = Files.createDirectories(dir.resolve("embeddings"));
        Files.copy(Fixtures.require(c.get("embedding").asText()), folder.resolve(c.get("token").asText() + ".safetensors"));
        Files.writeString(folder.resolve("notes.txt"), "not an embedding");
        assertThat(run(txt2img(c, "--embeddings-dir", folder.toString()))).as(err.toString()).isZero();
        assertReference(c);
    }

    @Test
    void anEmbeddingOfTheWrongWidthIsOneLineAndNoFile() throws IOException {
        Path wide = dir.resolve("wide.safetensors");
        SafeTensorsWriter.write(wide, Map.of("emb_params", Weight.ofFloats("emb_params", new float[768], 1, 768)));
        int code = run(txt2img(theCase(), "--embedding", "wide=" + wide));
        assertThat(code).isEqualTo(1);
        assertThat(err.toString().lines().toList()).hasSize(1);
        assertThat(err.toString()).startsWith("error: embedding 'wide'").contains("768 wide").contains("tiny-sd15");
        try (Stream<Path> files = Files.list(output().getParent())) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void aMissingEmbeddingFileFailsBeforeTheModelLoads() throws IOException {
        int code = run(txt2img(theCase(), "--embedding", "x=" + dir.resolve("nope.safetensors")));
        assertThat(code).isEqualTo(1);
        assertThat(err.toString().strip()).startsWith("error: --embedding:").contains("nope.safetensors").contains("no such file");
    }

    /**
     * A1111's folder: --models-dir finds the model by name and reads its embeddings folder; files there made for
     * another text encoder (768 wide here, for a 32-wide model) or unreadable are skipped, not fatal.
     */
    @Test
    void modelsDirReadsItsEmbeddingsFolderAndSkipsWhatDoesNotFit() throws IOException {
        JsonNode c = theCase();
        Path root = dir.resolve("webui");
        Path checkpoints = Files.createDirectories(root.resolve("models/Stable-diffusion"));
        Files.createSymbolicLink(checkpoints.resolve("tiny.safetensors"), Fixtures.require("tiny-sd15.safetensors").toRealPath());
        Path embeddings = Files.createDirectories(root.resolve("embeddings/styles"));
        Files.copy(Fixtures.require(c.get("embedding").asText()), embeddings.resolve(c.get("token").asText() + ".safetensors"));
        SafeTensorsWriter.write(embeddings.resolve("wide.safetensors"), Map.of("emb_params", Weight.ofFloats("emb_params", new float[768], 1, 768)));
        Files.writeString(embeddings.resolve("broken.pt"), "not a checkpoint");
        List<String> args = txt2img(c, "--models-dir", root.toString());
        args.set(args.indexOf("--model") + 1, "tiny");
        assertThat(run(args)).as(err.toString()).isZero();
        assertReference(c);
    }

    @Test
    void aNamedEmbeddingMustBeReadable() throws IOException {
        Path broken = Files.writeString(dir.resolve("broken.pt"), "not a checkpoint");
        assertThat(run(txt2img(theCase(), "--embedding", "broken=" + broken))).isEqualTo(1);
        assertThat(err.toString().strip()).startsWith("error: --embedding:").contains("broken.pt");
    }
}
