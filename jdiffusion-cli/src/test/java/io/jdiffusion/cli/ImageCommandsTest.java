package io.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Img2ImgRequest;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.Inpaint;
import io.jdiffusion.pipeline.InpaintRequest;
import io.jdiffusion.pipeline.MaskedContent;
import io.jdiffusion.pipeline.ResizeMode;
import io.jdiffusion.pipeline.RgbImage;
import io.jdiffusion.pipeline.SizeConditioning;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * img2img, inpaint and outpaint through the command line with the real pipeline: the fixtures' cases give
 * the reference images, and each kind of bad input is one line, exit 1, no file written.
 */
class ImageCommandsTest {
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

    /** The check's command line for a fixture case, as the issue spells it. */
    private List<String> caseArgs(String command, JsonNode c) throws IOException {
        return new ArrayList<>(List.of(command, "--model", Fixtures.tinySd15().toString(),
                "--init-image", Fixtures.require(c.get("init_image").asText()).toString(),
                "--strength", c.get("strength").asText(), "--prompt", c.get("prompt").asText(),
                "--negative-prompt", c.get("negative_prompt").asText(), "--sampler", c.get("sampler").asText(),
                "--steps", c.get("num_inference_steps").asText(), "--cfg-scale", c.get("guidance_scale").asText(),
                "--seed", c.get("seed").asText(), "--no-watermark", "--output", output().toString()));
    }

    private static void assertMatchesReference(Path written, Path reference) {
        ImageDelta.between(written, reference).assertWithinTolerance(reference.getFileName().toString());
    }

    @Test
    void img2imgGivesTheReferenceImage() throws IOException {
        JsonNode c = fixtureCase("img2img_euler_a_50");
        CliRun r = run(caseArgs("img2img", c));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo(output().toString());
        assertMatchesReference(output(), Fixtures.require(c.get("image").asText()));
        Infotext info = Infotext.parse(Png.read(output()).text().get("parameters"));
        assertThat(info.get("Denoising strength")).isEqualTo("0.5");
        assertThat(info.get("Size")).isEqualTo("64x64");
    }

    @Test
    void inpaintGivesTheReferenceImage() throws IOException {
        JsonNode c = fixtureCase("inpaint_4ch");
        List<String> args = caseArgs("inpaint", c);
        args.addAll(List.of("--mask", Fixtures.require(c.get("mask").asText()).toString(),
                "--width", c.get("width").asText(), "--height", c.get("height").asText(), "--no-overlay"));
        CliRun r = run(args);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertMatchesReference(output(), Fixtures.require(c.get("image").asText()));
    }

    /** --masked-content and --only-masked reach the core's inpainting: the CLI writes the image Inpaint.run makes. */
    @Test
    void inpaintMaskedContentAndOnlyMaskedAreTheCoresOptions() throws IOException {
        JsonNode c = fixtureCase("inpaint_4ch");
        List<String> args = caseArgs("inpaint", c);
        replace(args, "--strength", "0.6");
        args.addAll(List.of("--mask", Fixtures.require(c.get("mask").asText()).toString(), "--masked-content", "latent-nothing",
                "--only-masked", "--only-masked-padding", "8"));
        CliRun r = run(args);
        assertThat(r.exitCode()).as(r.err()).isZero();
        Png.Image written = Png.read(output());

        RgbImage init = RgbImage.read(Fixtures.require(c.get("init_image").asText()), "init");
        Txt2ImgRequest params = new Txt2ImgRequest(Fixtures.tinySd15(), null, c.get("prompt").asText(),
                c.get("negative_prompt").asText(), c.get("sampler").asText(), c.get("num_inference_steps").asInt(),
                c.get("guidance_scale").asDouble(), c.get("seed").asLong(), 0, 0, 1, 1, null, false);
        InpaintRequest request = new InpaintRequest(params, init, RgbImage.read(Fixtures.require(c.get("mask").asText()), "mask"),
                0.6, ResizeMode.RESIZE, false, 4, true, MaskedContent.LATENT_NOTHING, true, 8);
        GeneratedImage expected = Inpaint.run(request.validate(), StepListener.NONE).getFirst();
        assertThat(written.rgb()).isEqualTo(expected.rgb());
        Infotext info = Infotext.parse(written.text().get("parameters"));
        assertThat(info.get("Masked content")).isEqualTo("latent nothing");
        assertThat(info.get("Inpaint area")).isEqualTo("Only masked");

        Files.delete(output());
        replace(args, "--masked-content", "noise");
        assertRefused(run(args), "--masked-content", "'noise'", "latent-noise");
    }

    @Test
    void outpaintWritesTheGrownCanvas() throws IOException {
        CliRun r = run(List.of("outpaint", "--model", Fixtures.tinySd15().toString(), "--init-image",
                Fixtures.require("tiny-sd15-ref/init.png").toString(), "--extend", "0,0,16,0", "--prompt", "a horse",
                "--steps", "2", "--seed", "3", "--output", output().toString()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        Png.Image png = Png.read(output());
        assertThat(png.width()).isEqualTo(80);
        assertThat(png.height()).isEqualTo(64);
    }

    @Test
    void imageCommandsTakeLorasAndTheirPromptTags() throws IOException {
        JsonNode c = fixtureCase("img2img_euler_a_50");
        CliRun plain = run(caseArgs("img2img", c));
        assertThat(plain.exitCode()).as(plain.err()).isZero();
        byte[] without = Png.read(output()).rgb();
        List<String> withLora = caseArgs("img2img", c);
        withLora.addAll(List.of("--lora", Fixtures.require("tiny-sd15-ref/lora-attn.safetensors") + ":1"));
        CliRun r = run(withLora);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(Png.read(output()).rgb()).as("the LoRA changes the image").isNotEqualTo(without);

        Files.delete(output());
        List<String> tagged = caseArgs("inpaint", fixtureCase("inpaint_4ch"));
        replace(tagged, "--prompt", "a horse <lora:style:1>");
        tagged.addAll(List.of("--mask", Fixtures.require("tiny-sd15-ref/mask.png").toString()));
        assertRefused(run(tagged), "prompt: <lora:style:...> needs --models-dir");
    }

    @Test
    void sdxlSizeFlagsDefaultToTheOutputSizeTheImageGives() throws IOException {
        Path init = dir.resolve("init.png");
        Png.write(init, 100, 75, new byte[100 * 75 * 3], java.util.Map.of());
        Img2ImgCommand command = new Img2ImgCommand(dir);
        new CommandLine(command).parseArgs("--model", Fixtures.tinySd15().toString(), "--prompt", "a fox",
                "--init-image", init.toString(), "--original-size", "2048,1536", "--crop-top-left", "8,16");
        command.options.check(new java.io.PrintWriter(java.io.Writer.nullWriter()));
        RgbImage image = command.image.read();
        Img2ImgRequest request = command.options.request(0, 0,
                params -> new Img2ImgRequest(params, image, 0.5, command.image.mode()),
                Img2ImgRequest::resolvedParams).validate();
        // the output is the init image's size rounded down to multiples of 8; the target size defaults to it
        assertThat(request.resolvedParams().width()).isEqualTo(96);
        assertThat(request.resolvedParams().height()).isEqualTo(72);
        assertThat(request.resolvedParams().sizeConditioning())
                .isEqualTo(new SizeConditioning(2048, 1536, 8, 16, 96, 72));
    }

    // --- bad input: one line, exit 1, nothing written ---

    private void assertRefused(CliRun r, String... fragments) throws IOException {
        assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
        List<String> lines = r.err().lines().toList();
        assertThat(lines).as("stderr").hasSize(1);
        assertThat(lines.getFirst()).startsWith("error: ").contains(fragments);
        try (Stream<Path> files = Files.list(output().getParent())) {
            assertThat(files).as("nothing written").isEmpty();
        }
    }

    private List<String> img2img(String... extra) throws IOException {
        List<String> args = caseArgs("img2img", fixtureCase("img2img_euler_a_50"));
        args.addAll(List.of(extra));
        return args;
    }

    private static void replace(List<String> args, String flag, String value) {
        args.set(args.indexOf(flag) + 1, value);
    }

    @Test
    void missingInitImage() throws IOException {
        List<String> args = img2img();
        replace(args, "--init-image", dir.resolve("nowhere.png").toString());
        assertRefused(run(args), "--init-image", "nowhere.png", "no such file");
    }

    @Test
    void unreadableInitImage() throws IOException {
        // (the tests run as any user, so a folder stands for a file that cannot be read as an image)
        List<String> args = img2img();
        replace(args, "--init-image", Files.createDirectories(dir.resolve("folder.png")).toString());
        assertRefused(run(args), "--init-image", "folder.png", "is a directory");
    }

    @Test
    void initImageThatIsNoImage() throws IOException {
        Path text = Files.writeString(dir.resolve("notes.png"), "not a picture");
        List<String> args = img2img();
        replace(args, "--init-image", text.toString());
        assertRefused(run(args), "--init-image", "notes.png");
        Path other = Files.writeString(dir.resolve("notes.txt"), "not a picture");
        replace(args, "--init-image", other.toString());
        assertRefused(run(args), "--init-image", "notes.txt", "not an image");
    }

    @Test
    void strengthOutOfRange() throws IOException {
        for (String s : new String[]{"0", "1.5", "-0.2", "NaN"}) {
            List<String> args = img2img();
            replace(args, "--strength", s);
            assertRefused(run(args), "--strength", "outside (0, 1]");
        }
        List<String> args = img2img();
        replace(args, "--strength", "0.1"); // 8 steps · 0.1 < 1: no step would run
        assertRefused(run(args), "--strength", "leaves no step");
    }

    @Test
    void badResizeModeAndSize() throws IOException {
        assertRefused(run(img2img("--resize-mode", "squash")), "--resize-mode", "squash", "resize, crop, fill");
        assertRefused(run(img2img("--width", "100")), "--width", "100", "multiple of 8");
    }

    @Test
    void maskOfAnotherSize() throws IOException {
        Path small = dir.resolve("small-mask.png");
        Png.write(small, 32, 32, new byte[32 * 32 * 3], java.util.Map.of());
        List<String> args = caseArgs("inpaint", fixtureCase("inpaint_4ch"));
        args.addAll(List.of("--mask", small.toString()));
        assertRefused(run(args), "--mask", "32x32", "64x64");
    }

    @Test
    void missingMask() throws IOException {
        List<String> args = caseArgs("inpaint", fixtureCase("inpaint_4ch"));
        args.addAll(List.of("--mask", dir.resolve("no-mask.png").toString()));
        assertRefused(run(args), "--mask", "no-mask.png", "no such file");
    }

    @Test
    void badExtend() throws IOException {
        for (String[] bad : new String[][]{{"8,8,-8,0", "negative"}, {"8,8", "four numbers"}, {"8,x,8,8", "'x'"},
                {"0,0,0,0", "nothing to add"}}) {
            CliRun r = run(List.of("outpaint", "--model", Fixtures.tinySd15().toString(), "--init-image",
                    Fixtures.require("tiny-sd15-ref/init.png").toString(), "--extend", bad[0], "--prompt", "x",
                    "--output", output().toString()));
            assertRefused(r, "--extend", bad[1]);
        }
    }
}
