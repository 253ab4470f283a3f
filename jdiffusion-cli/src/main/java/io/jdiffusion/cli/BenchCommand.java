package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.bench.Arch;
import io.jdiffusion.bench.Bench;
import io.jdiffusion.model.vae.VaeTiling;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jdiffusion bench}: times text encoder, UNet step and VAE decode of a full-size model. */
@Command(name = "bench",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = {"Time the text encoder, one guided UNet step (batch 2) and the VAE decode of a full-size model",
                "with random fp16 weights in the published checkpoint's layout (nothing is downloaded), or of a real checkpoint."},
        footer = {"", "The random checkpoint is written to the temporary folder (java.io.tmpdir) and deleted once loaded."})
final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--arch", paramLabel = "ARCH", defaultValue = "sd15",
            description = "sd15, sd21 or sdxl (default: ${DEFAULT-VALUE}).")
    String arch;

    @Option(names = "--model", paramLabel = "PATH", description = "Time this checkpoint instead of random weights.")
    Path model;

    @Option(names = "--width", paramLabel = "W", defaultValue = "512", description = "Image width (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--height", paramLabel = "H", defaultValue = "512", description = "Image height (default: ${DEFAULT-VALUE}).")
    int height;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "3",
            description = "Timed UNet steps after one warm-up step (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--vae-tiling", description = "Decode the VAE in overlapping tiles of 320x320 pixels (less memory for large images).")
    boolean vaeTiling;

    @Option(names = "--json", description = "Print one JSON object on stdout (the report goes to stderr).")
    boolean json;

    @Override
    public Integer call() {
        if (model != null && !Files.exists(model)) throw new JDiffusionException("--model: " + model + ": no such file or directory");
        if (threads != null && threads < 1) throw new JDiffusionException("--threads: " + threads + " must be at least 1");
        Bench.Options options = new Bench.Options(model == null ? Arch.parse(arch) : null, model, width, height, steps,
                threads == null ? 0 : threads, vaeTiling ? VaeTiling.DEFAULT : null);
        PrintWriter err = spec.commandLine().getErr();
        Bench.Result result = Bench.run(options, line -> {
            err.println("bench: " + line);
            err.flush();
        });
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            // stdout carries the one object; the detailed report goes with the progress lines
            err.print(result.toText());
            err.flush();
            out.println(result.toJson());
        } else {
            out.print(result.toText());
        }
        out.flush();
        return 0;
    }
}
