package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.prompt.EmbeddingFile;
import io.jdiffusion.prompt.Embeddings;
import io.jdiffusion.sampling.SamplerId;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.tensor.Parallel;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.random.RandomGenerator;

/**
 * The flags every generating command shares (model, prompts, sampler, seed, batch, output, ...), and the
 * steps around the pipeline they share: checking the flags, the progress bar, writing the PNGs.
 */
final class GenerationOptions {

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "A checkpoint file (.safetensors) or a diffusers model folder.")
    Path model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "What to draw.")
    String prompt;

    @Option(names = "--negative-prompt", paramLabel = "TEXT", defaultValue = "",
            description = "What to steer away from (default: none).")
    String negativePrompt;

    @Option(names = "--sampler", paramLabel = "ID", defaultValue = "euler_a", completionCandidates = SamplerIds.class,
            description = "One of: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    String sampler;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "20", description = "Sampling steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--cfg-scale", paramLabel = "F", defaultValue = "7.5",
            description = "Classifier-free guidance scale (default: ${DEFAULT-VALUE}).")
    double cfgScale;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "-1",
            description = "0..18446744073709551615, or -1 for a random seed, printed on stderr (default: ${DEFAULT-VALUE}).")
    String seed;

    @Option(names = "--batch-size", paramLabel = "B", defaultValue = "1",
            description = "Images to generate in one run, 1..64 (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--clip-skip", paramLabel = "K", defaultValue = "1",
            description = "Text encoder layers to skip from the end, as A1111's \"Clip skip\" (default: ${DEFAULT-VALUE} = none).")
    int clipSkip;

    @Option(names = "--prediction-type", paramLabel = "TYPE",
            description = "epsilon or v_prediction, overriding the model's (SD 2.x 768-v models need v_prediction).")
    String predictionType;

    @Option(names = "--embedding", paramLabel = "TOKEN=FILE",
            description = "A textual-inversion embedding (.safetensors) that TOKEN in the prompts calls; repeatable.")
    List<String> embeddingSpecs = new ArrayList<>();

    @Option(names = "--embeddings-dir", paramLabel = "DIR",
            description = "Every .safetensors embedding in DIR, called by its file name without the extension.")
    Path embeddingsDir;

    @Option(names = "--config", paramLabel = "DIR",
            description = "A diffusers-style config folder for a single-file checkpoint.")
    Path configDir;

    @Option(names = "--no-watermark", description = "Do not add the invisible watermark.")
    boolean noWatermark;

    @Option(names = "--output", paramLabel = "FILE",
            description = "The PNG to write; with --batch-size > 1, FILE-1.png, FILE-2.png, ... Its folder must exist.")
    Path output;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    private Long resolvedSeed;
    private List<EmbeddingFile> embeddings;

    /** Checks what needs no model: sampler, model path, config folder, threads. */
    void check() {
        SamplerId.parse(sampler);
        if (!Files.exists(model)) throw new JDiffusionException("--model: " + model + ": no such file or directory");
        if (!Files.isReadable(model)) throw new JDiffusionException("--model: " + model + ": not readable");
        if (configDir != null && !Files.isDirectory(configDir)) {
            throw new JDiffusionException("--config: " + configDir + ": no such directory");
        }
        if (threads != null && threads < 1) throw new JDiffusionException("--threads: " + threads + " must be at least 1");
        embeddings = new ArrayList<>();
        if (embeddingsDir != null) embeddings.addAll(EmbeddingFile.inDirectory(embeddingsDir));
        for (String spec : embeddingSpecs) embeddings.add(EmbeddingFile.parse(spec)); // a named one wins over the folder's
        Embeddings.load(embeddings); // unreadable files fail before the model loads
    }

    boolean randomSeed() {
        return seed.strip().equals("-1");
    }

    /** The request these flags describe, at this size (0 = decided by the pipeline from its input image). */
    Txt2ImgRequest request(int width, int height) {
        if (resolvedSeed == null) resolvedSeed = randomSeed() ? randomSeedValue() : parseSeed(seed);
        return new Txt2ImgRequest(model, configDir, prompt, negativePrompt, sampler, steps, cfgScale, resolvedSeed,
                width, height, batchSize, clipSkip, predictionType, !noWatermark,
                embeddings == null ? List.of() : embeddings);
    }

    /**
     * Runs a validated job and writes its images: checks the output place first, shows progress on stderr,
     * prints each written file on stdout and, for a random seed, the seed on stderr.
     *
     * @param command the default output folder's name under {@code outputs/}
     */
    int generate(PrintWriter out, PrintWriter err, Path workDir, String command, Txt2ImgRequest request,
                 Function<StepListener, List<GeneratedImage>> pipeline) {
        Path outputFolder = output != null ? checkOutputFile(output)
                : checkCreatable(workDir.resolve("outputs").resolve(command));
        if (threads != null) Parallel.setThreads(threads);
        List<GeneratedImage> images;
        try (ProgressBar progress = ProgressBar.forStderr(err)) {
            images = pipeline.apply(progress);
        }
        for (Path written : write(request, images, outputFolder)) out.println(written);
        // told once the images exist, so a failed run still prints exactly one error line
        if (randomSeed()) err.println("seed: " + Long.toUnsignedString(request.seed()));
        return 0;
    }

    private List<Path> write(Txt2ImgRequest request, List<GeneratedImage> images, Path outputFolder) {
        if (output == null) createFolder(outputFolder); // only now, so a failed run leaves no empty folders
        List<Path> written = new ArrayList<>();
        for (int i = 0; i < images.size(); i++) {
            GeneratedImage img = images.get(i);
            Path file = output == null
                    ? OutputFiles.nextNumbered(outputFolder, img.seed())
                    : images.size() == 1 ? output : OutputFiles.withIndex(output, i + 1);
            String infotext = img.infotext() != null ? img.infotext()
                    : Infotext.forTxt2Img(request, img.seed(), null, Infotext.modelName(request.model())).format();
            Png.write(file, img.width(), img.height(), img.rgb(), Map.of("parameters", infotext));
            written.add(file);
        }
        return written;
    }

    /** -1 is handled by the caller; otherwise any unsigned 64-bit number, as torch's manual_seed takes. */
    static long parseSeed(String text) {
        try {
            return Long.parseUnsignedLong(text.strip());
        } catch (NumberFormatException e) {
            throw new JDiffusionException("--seed: '" + text + "' is not -1 (random) or a number in 0..18446744073709551615");
        }
    }

    /** A random seed below 2^32, so it can be typed into A1111 too. */
    private static long randomSeedValue() {
        return RandomGenerator.getDefault().nextLong(1L << 32);
    }

    /** The folder --output writes into, which must already exist. */
    private static Path checkOutputFile(Path file) {
        if (!file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
            throw new JDiffusionException("--output: " + file + ": only PNG is written; use a name ending in .png");
        }
        if (Files.isDirectory(file)) throw new JDiffusionException("--output: " + file + " is a directory");
        Path folder = file.toAbsolutePath().getParent();
        if (folder == null || !Files.isDirectory(folder)) {
            throw new JDiffusionException("--output: " + file + ": the folder " + folder + " does not exist");
        }
        if (!Files.isWritable(folder)) throw new JDiffusionException("--output: " + file + ": the folder " + folder + " is not writable");
        return folder;
    }

    /** The default output folder: it need not exist yet, but the nearest folder that does must be writable. */
    private static Path checkCreatable(Path folder) {
        Path existing = folder.toAbsolutePath();
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null || !Files.isDirectory(existing) || !Files.isWritable(existing)) {
            throw new JDiffusionException(folder + ": cannot create the output folder here (" + existing
                    + " is not a writable folder); use --output FILE");
        }
        return folder;
    }

    private static void createFolder(Path folder) {
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new JDiffusionException(folder + ": cannot create the output folder (" + e.getMessage() + ")");
        }
    }

    /** The sampler ids, for --help and shell completion. */
    static final class SamplerIds implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return java.util.Arrays.stream(SamplerId.values()).map(s -> s.id).iterator();
        }
    }
}
