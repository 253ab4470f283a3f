package io.jdiffusion.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The command line run in-process: exit codes, the one-line errors, and that bad input creates no files. */
class MainTest {

    @TempDir
    Path dir;

    record Result(int exitCode, String out, String err) {
        List<String> errLines() {
            return err.lines().toList();
        }
    }

    private Result run(CommandLine cl, StringWriter out, StringWriter err, String... args) {
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    private Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        return run(Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir), out, err, args);
    }

    /** A model "file" that exists, so the checks after the model's get their turn. */
    private Path fakeModel() throws IOException {
        Path model = Files.createTempFile("model", ".safetensors");
        model.toFile().deleteOnExit();
        return model;
    }

    private List<String> txt2img(Path model, String... extra) {
        List<String> args = new ArrayList<>(List.of("txt2img", "--model", model.toString(), "--prompt", "a cat",
                "--output", dir.resolve("cat.png").toString()));
        args.addAll(List.of(extra));
        return args;
    }

    private void assertOneLineError(Result r, int exitCode, String... fragments) throws IOException {
        assertThat(r.exitCode()).as(r.err()).isEqualTo(exitCode);
        assertThat(r.errLines()).as("stderr").hasSize(1);
        assertThat(r.errLines().getFirst()).startsWith("error: ").contains(fragments);
        assertThat(r.err()).as("no stack trace").doesNotContainPattern("(?m)^\\s+at ").doesNotContain("Caused by");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).as("files left in the output folder").isEmpty();
        }
    }

    @Test
    void widthNotAMultipleOfEight() throws IOException {
        assertOneLineError(run(txt2img(fakeModel(), "--width", "500").toArray(String[]::new)), 1,
                "--width", "multiple of 8");
    }

    @Test
    void heightTooLarge() throws IOException {
        assertOneLineError(run(txt2img(fakeModel(), "--height", "8192").toArray(String[]::new)), 1,
                "--height", "4096");
    }

    @Test
    void unknownSamplerListsTheValidOnes() throws IOException {
        assertOneLineError(run(txt2img(fakeModel(), "--sampler", "k_euler").toArray(String[]::new)), 1,
                "--sampler", "k_euler", "euler_a", "dpmpp_2m_karras", "ddim");
    }

    @Test
    void stepsBelowOne() throws IOException {
        assertOneLineError(run(txt2img(fakeModel(), "--steps", "0").toArray(String[]::new)), 1, "--steps");
    }

    @Test
    void badSeeds() throws IOException {
        assertOneLineError(run(txt2img(fakeModel(), "--seed", "-2").toArray(String[]::new)), 1, "--seed", "-1");
        assertOneLineError(run(txt2img(fakeModel(), "--seed", "18446744073709551616").toArray(String[]::new)), 1, "--seed");
    }

    @Test
    void seedsAreUnsigned64Bit() {
        assertThat(GenerationOptions.parseSeed("18446744073709551615")).isEqualTo(-1L);
        assertThat(GenerationOptions.parseSeed("4294967301")).isEqualTo(4294967301L);
        assertThat(GenerationOptions.parseSeed("0")).isZero();
    }

    @Test
    void outputInAMissingFolder() throws IOException {
        Path missing = dir.resolve("no/such/folder/cat.png");
        List<String> args = new ArrayList<>(List.of("txt2img", "--model", fakeModel().toString(), "--prompt", "a cat",
                "--output", missing.toString()));
        assertOneLineError(run(args.toArray(String[]::new)), 1, "--output", "does not exist");
    }

    @Test
    void missingModel() throws IOException {
        Path model = dir.resolve("nope.safetensors");
        assertOneLineError(run(txt2img(model).toArray(String[]::new)), 1, "--model", "nope.safetensors",
                "no such file");
    }

    @Test
    void missingModelWithoutOutputCreatesNoOutputsFolder() throws IOException {
        Result r = run("txt2img", "--model", dir.resolve("nope").toString(), "--prompt", "a cat");
        assertOneLineError(r, 1, "--model");
    }

    @Test
    void usageErrorsExitWithTwoAndPicocliMessage() throws IOException {
        assertOneLineError(run(txt2img(fakeModel(), "--steps", "many").toArray(String[]::new)), 2,
                "--steps", "many");
        assertOneLineError(run(txt2img(fakeModel(), "--stesp", "4").toArray(String[]::new)), 2,
                "--stesp", "--steps");
        // (no --model is not a usage error: it means the default Hub model, see HubModelCommandTest)
        assertOneLineError(run("txt2img", "--model", fakeModel().toString()), 2, "--prompt");
        assertOneLineError(run(), 2, "no command");
    }

    @Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new IllegalStateException("kaput");
        }
    }

    @Test
    void unexpectedErrorsAreOneLineWithTheTraceOnlyOnRequest() throws IOException {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir);
        cl.addSubcommand(new Boom());
        cl.setErr(new PrintWriter(err, true));
        Result quiet = run(cl, out, err, "boom");
        assertOneLineError(quiet, 3, "IllegalStateException", "kaput", "--debug");

        StringWriter out2 = new StringWriter(), err2 = new StringWriter();
        CommandLine cl2 = Main.commandLine(new PrintWriter(out2, true), new PrintWriter(err2, true), dir);
        cl2.addSubcommand(new Boom());
        cl2.setErr(new PrintWriter(err2, true));
        Result debug = run(cl2, out2, err2, "--debug", "boom");
        assertThat(debug.exitCode()).isEqualTo(3);
        assertThat(debug.err()).contains("kaput").contains("at io.jdiffusion.cli.MainTest$Boom.call");
    }

    @Test
    void versionAndHelp() {
        Result version = run("--version");
        assertThat(version.exitCode()).isZero();
        assertThat(version.out()).startsWith("jdiffusion ");
        Result help = run("txt2img", "--help");
        assertThat(help.exitCode()).isZero();
        for (String flag : List.of("--model", "--prompt", "--negative-prompt", "--sampler", "--steps", "--cfg-scale",
                "--seed", "--width", "--height", "--batch-size", "--clip-skip", "--prediction-type", "--config",
                "--no-watermark", "--output", "--threads")) {
            assertThat(help.out()).contains(flag);
        }
    }

    @Test
    void infoDescribesAModelFolder() {
        String fixtures = System.getProperty("jdiffusion.fixtures");
        assumeTrue(fixtures != null && Files.isDirectory(Path.of(fixtures, "tiny-sd15")), "fixtures not available");
        Result r = run("info", Path.of(fixtures, "tiny-sd15").toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Stable Diffusion 1.x").contains("epsilon");
    }

    @Test
    void infoNamesSdxlInBothLayouts() {
        String fixtures = System.getProperty("jdiffusion.fixtures");
        assumeTrue(fixtures != null && Files.isDirectory(Path.of(fixtures, "tiny-sdxl")), "fixtures not available");
        Path file = dir.resolve("tiny-sdxl.safetensors");
        io.jdiffusion.testing.SdxlOriginalLayout.write(Path.of(fixtures, "tiny-sdxl"), file);
        for (Path model : new Path[]{Path.of(fixtures, "tiny-sdxl"), file}) {
            Result r = run("info", model.toString());
            assertThat(r.exitCode()).as(r.err()).isZero();
            assertThat(r.out()).contains("Stable Diffusion XL", "text encoder 2", "scaling factor 0.13025");
        }
    }

    @Test
    void infoOnAMissingModel() throws IOException {
        assertOneLineError(run("info", dir.resolve("none.safetensors").toString()), 1, "none.safetensors");
    }
}
