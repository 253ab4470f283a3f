package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.SizeConditioning;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** txt2img around a stand-in pipeline: what reaches the pipeline, and which files come out. */
class Txt2ImgCommandTest {

    @TempDir
    Path dir;

    private final AtomicReference<Txt2ImgRequest> received = new AtomicReference<>();
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    /** Images of the requested size, one per batch entry, seeds seed + i, with the infotext left to the CLI. */
    private List<GeneratedImage> fakePipeline(Txt2ImgRequest r, io.jdiffusion.sampling.StepListener listener) {
        received.set(r);
        for (int step = 1; step <= r.steps(); step++) listener.onStep(step, r.steps(), null);
        List<GeneratedImage> images = new ArrayList<>();
        for (int i = 0; i < r.batchSize(); i++) {
            byte[] rgb = new byte[r.width() * r.height() * 3];
            java.util.Arrays.fill(rgb, (byte) (40 * i + 10));
            images.add(new GeneratedImage(r.width(), r.height(), rgb, r.seed() + i, null));
        }
        return images;
    }

    private int run(String... args) {
        return Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir, this::fakePipeline)
                .execute(args);
    }

    private Path model() throws IOException {
        return Files.createFile(dir.resolve("my-model.safetensors"));
    }

    @Test
    void passesEveryFlagToThePipeline() throws IOException {
        Path config = Files.createDirectory(dir.resolve("config"));
        int code = run("txt2img", "--model", model().toString(), "--prompt", "a red fox", "--negative-prompt", "blurry",
                "--sampler", "dpmpp_2m_karras", "--steps", "7", "--cfg-scale", "5.5", "--seed", "18446744073709551615",
                "--width", "64", "--height", "72", "--clip-skip", "2", "--prediction-type", "v_prediction",
                "--config", config.toString(), "--no-watermark", "--output", dir.resolve("fox.png").toString());
        assertThat(code).as(err.toString()).isZero();
        Txt2ImgRequest r = received.get();
        assertThat(r).isEqualTo(new Txt2ImgRequest(dir.resolve("my-model.safetensors"), config, "a red fox", "blurry",
                "dpmpp_2m_karras", 7, 5.5, -1L, 64, 72, 1, 2, "v_prediction", false));
        assertThat(out.toString().strip()).isEqualTo(dir.resolve("fox.png").toString());
        assertThat(err.toString()).doesNotContain("seed:");
    }

    @Test
    void sdxlSizeFlagsReachThePipelineWithTheImageSizeAsDefault() throws IOException {
        Path model = model();
        assertThat(run("txt2img", "--model", model.toString(), "--prompt", "a fox", "--seed", "1", "--width", "96", "--height", "64",
                "--crop-top-left", "8,16", "--target-size", "1024x768", "--output", dir.resolve("a.png").toString())).as(err.toString()).isZero();
        assertThat(received.get().sizeConditioning()).isEqualTo(new SizeConditioning(96, 64, 8, 16, 1024, 768));

        assertThat(run("txt2img", "--model", model.toString(), "--prompt", "a fox", "--seed", "1", "--width", "96", "--height", "64",
                "--original-size", "2048,1536", "--output", dir.resolve("b.png").toString())).as(err.toString()).isZero();
        assertThat(received.get().sizeConditioning()).isEqualTo(new SizeConditioning(2048, 1536, 0, 0, 96, 64));

        assertThat(run("txt2img", "--model", model.toString(), "--prompt", "a fox", "--seed", "1",
                "--output", dir.resolve("c.png").toString())).as(err.toString()).isZero();
        assertThat(received.get().sizeConditioning()).isNull();
    }

    @Test
    void badSdxlSizeFlagsAreOneLineErrors() throws IOException {
        Path model = model();
        for (String[] flag : new String[][]{{"--original-size", "1024"}, {"--target-size", "0,512"}, {"--crop-top-left", "-1,0"},
                {"--crop-top-left", "a,b"}}) {
            int before = err.toString().length();
            received.set(null);
            int code = run("txt2img", "--model", model.toString(), "--prompt", "a fox", flag[0], flag[1]);
            assertThat(code).as(flag[0] + " " + flag[1]).isNotZero();
            assertThat(received.get()).isNull();
            String message = err.toString().substring(before).strip();
            assertThat(message).startsWith("error: " + flag[0]).doesNotContain("\n");
        }
    }

    @Test
    void writesAPngWithTheInfotext() throws IOException {
        Path file = dir.resolve("fox.png");
        assertThat(run("txt2img", "--model", model().toString(), "--prompt", "a red fox, 狐", "--seed", "42",
                "--width", "64", "--height", "64", "--output", file.toString())).isZero();
        Png.Image png = Png.read(file);
        assertThat(png.width()).isEqualTo(64);
        assertThat(png.rgb()[0] & 0xff).isEqualTo(10);
        Infotext info = Infotext.parse(png.text().get("parameters"));
        assertThat(info.prompt()).isEqualTo("a red fox, 狐");
        assertThat(info.get("Seed")).isEqualTo("42");
        assertThat(info.get("Sampler")).isEqualTo("Euler a");
        assertThat(info.get("Steps")).isEqualTo("20");
        assertThat(info.get("CFG scale")).isEqualTo("7.5");
        assertThat(info.get("Size")).isEqualTo("64x64");
        assertThat(info.get("Model")).isEqualTo("my-model");
    }

    @Test
    void aBatchWithOutputGetsIndexedNames() throws IOException {
        assertThat(run("txt2img", "--model", model().toString(), "--prompt", "fox", "--seed", "5", "--batch-size", "3",
                "--width", "64", "--height", "64", "--output", dir.resolve("fox.png").toString())).isZero();
        for (int i = 1; i <= 3; i++) {
            Png.Image png = Png.read(dir.resolve("fox-" + i + ".png"));
            assertThat(Infotext.parse(png.text().get("parameters")).get("Seed")).isEqualTo(Long.toString(5 + i - 1));
        }
        assertThat(dir.resolve("fox.png")).doesNotExist();
    }

    @Test
    void withoutOutputImagesAreNumberedInOutputsTxt2img() throws IOException {
        Path model = model();
        assertThat(run("txt2img", "--model", model.toString(), "--prompt", "fox", "--seed", "9", "--batch-size", "2",
                "--width", "64", "--height", "64")).isZero();
        assertThat(run("txt2img", "--model", model.toString(), "--prompt", "fox", "--width", "64", "--height", "64"))
                .isZero();
        Path folder = dir.resolve("outputs/txt2img");
        String randomSeed = err.toString().lines().filter(l -> l.startsWith("seed: ")).findFirst().orElseThrow()
                .substring("seed: ".length());
        try (Stream<Path> files = Files.list(folder)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("00001-9.png", "00002-10.png", "00003-" + randomSeed + ".png");
        }
        assertThat(Long.parseLong(randomSeed)).isBetween(0L, (1L << 32) - 1);
    }

    @Test
    void aFailingPipelineLeavesNoFiles() throws IOException {
        Path model = model();
        int code = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir,
                (r, l) -> {
                    throw new JDiffusionException(r.model() + ": not a Stable Diffusion checkpoint");
                }).execute("txt2img", "--model", model.toString(), "--prompt", "fox", "--seed", "1");
        assertThat(code).isEqualTo(1);
        assertThat(err.toString()).isEqualTo("error: " + model + ": not a Stable Diffusion checkpoint" + System.lineSeparator());
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(model);
        }
    }
}
