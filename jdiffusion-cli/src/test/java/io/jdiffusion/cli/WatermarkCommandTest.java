package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.watermark.DwtDctWatermark;
import io.jdiffusion.watermark.WatermarkMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jdiffusion watermark IMAGE}, and the note txt2img gives when an image is too small to mark. */
class WatermarkCommandTest {

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private static List<GeneratedImage> grayImages(Txt2ImgRequest r, io.jdiffusion.sampling.StepListener listener) {
        byte[] rgb = new byte[r.width() * r.height() * 3];
        java.util.Arrays.fill(rgb, (byte) 128);
        return List.of(new GeneratedImage(r.width(), r.height(), rgb, r.seed(), null));
    }

    private int run(String... args) {
        return Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir, WatermarkCommandTest::grayImages)
                .execute(args);
    }

    private static JsonNode watermarkCase(String id) {
        return Fixtures.cases("watermark").stream().filter(c -> c.get("id").asText().equals(id)).findFirst().orElseThrow();
    }

    @Test
    void saysTheSd1MarkIsLikelyWhereTheLibraryReadMostOfIt() {
        JsonNode c = watermarkCase("sd1_bytes");
        Path image = Fixtures.require(c.get("image").asText());
        int matching = c.get("decoded").get("watermarked").get("bits_matching").asInt();
        assertThat(run("watermark", image.toString())).as(err.toString()).isZero();
        assertThat(out.toString())
                .contains(image + ": 512x512")
                .contains("StableDiffusionV1 (136 bits): likely present, " + matching + " of 136 bits match")
                .contains("hex " + c.get("decoded").get("watermarked").get("hex").asText())
                .containsPattern("SDXL \\(48 bits\\): not found");
    }

    @Test
    void saysTheSdxlMarkIsLikelyAndTheUnmarkedInputCarriesNone() {
        JsonNode c = watermarkCase("sdxl_bits");
        int matching = c.get("decoded").get("watermarked").get("bits_matching").asInt();
        assertThat(run("watermark", Fixtures.require(c.get("image").asText()).toString())).isZero();
        assertThat(out.toString()).contains("SDXL (48 bits): likely present, " + matching + " of 48 bits match")
                .containsPattern("StableDiffusionV1 \\(136 bits\\): not found");

        out.getBuffer().setLength(0);
        assertThat(run("watermark", Fixtures.require(c.get("input").asText()).toString())).isZero();
        assertThat(out.toString()).containsPattern("StableDiffusionV1 \\(136 bits\\): not found")
                .containsPattern("SDXL \\(48 bits\\): not found");
    }

    @Test
    void findsEveryBitOfOurOwnMarkOnATexturedImageAndChecksAnyText() {
        int w = 512, h = 512;
        byte[] rgb = new byte[w * h * 3];
        new Random(5).nextBytes(rgb);
        WatermarkMessage custom = WatermarkMessage.ofText("jdiffusion");
        Path file = dir.resolve("marked.png");
        Png.write(file, w, h, DwtDctWatermark.encodeRgb8(rgb, w, h, custom), Map.of());

        assertThat(run("watermark", file.toString(), "--message", "jdiffusion", "--bits", "80")).isZero();
        assertThat(out.toString()).contains("jdiffusion (80 bits): found, 80 of 80 bits match")
                .contains("80 bits read: " + WatermarkMessage.binary(custom.bits()))
                .contains("text \"jdiffusion\"");
    }

    @Test
    void refusesImagesTooSmallToCarryAMark() {
        Path file = dir.resolve("small.png");
        Png.write(file, 255, 256, new byte[255 * 256 * 3], Map.of());
        assertThat(run("watermark", file.toString())).isEqualTo(1);
        assertThat(err.toString().strip()).isEqualTo("error: " + file + ": 255x256 is under the 65536 pixels (256x256) the watermark needs");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void refusesAFileThatIsNotAnImage() throws IOException {
        Path file = Files.writeString(dir.resolve("notes.txt"), "hello");
        assertThat(run("watermark", file.toString())).isEqualTo(1);
        assertThat(err.toString()).startsWith("error: " + file + ": not an image");
        assertThat(run("watermark", dir.resolve("missing.png").toString())).isEqualTo(1);
    }

    @Test
    void txt2imgNotesASkippedWatermarkButNotOneTurnedOff() throws IOException {
        Path model = Files.createFile(dir.resolve("m.safetensors"));
        String[] args = {"txt2img", "--model", model.toString(), "--prompt", "x", "--seed", "1", "--width", "64",
                "--height", "64", "--output", dir.resolve("a.png").toString()};
        assertThat(run(args)).isZero();
        assertThat(err.toString()).contains("note: no invisible watermark: 64x64 is under the 65536 pixels");

        err.getBuffer().setLength(0);
        String[] off = java.util.Arrays.copyOf(args, args.length + 1);
        off[args.length] = "--no-watermark";
        assertThat(run(off)).isZero();
        assertThat(err.toString()).doesNotContain("watermark");
    }
}
