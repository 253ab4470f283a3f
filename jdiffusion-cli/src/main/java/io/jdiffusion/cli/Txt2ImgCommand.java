package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.hub.HubSettings;
import io.jdiffusion.hub.ModelSource;
import io.jdiffusion.model.addon.ExtraNetworks;
import io.jdiffusion.model.addon.LoraSpec;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.model.addon.ModelsDir;
import io.jdiffusion.sampling.SamplerId;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.SizeConditioning;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.pipeline.Txt2Img;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.tensor.Parallel;
import io.jdiffusion.watermark.OutputWatermark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/** {@code jdiffusion txt2img}: a prompt in, PNG files (with A1111 infotext) out. */
@Command(name = "txt2img",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = "Generate images from a text prompt.",
        footer = {"", "Without --output, images go to outputs/txt2img/NNNNN-SEED.png (next free number)."})
final class Txt2ImgCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "PATH",
            description = "A checkpoint file (.safetensors, .ckpt), a diffusers model folder, or a Hugging Face repository owner/name[@revision] "
                    + "(downloaded into the Hugging Face cache); with --models-dir also a checkpoint's name. "
                    + "Default: " + ModelSource.DEFAULT_MODEL + " with 1 step, cfg 0 unless given.")
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

    @Option(names = "--width", paramLabel = "W", defaultValue = "512",
            description = "Image width, a multiple of 8 in 64..4096 (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--height", paramLabel = "H", defaultValue = "512",
            description = "Image height, a multiple of 8 in 64..4096 (default: ${DEFAULT-VALUE}).")
    int height;

    @Option(names = "--batch-size", paramLabel = "B", defaultValue = "1",
            description = "Images to generate in one run, 1..64 (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--clip-skip", paramLabel = "K", defaultValue = "1",
            description = "Text encoder layers to skip from the end, as A1111's \"Clip skip\" (default: ${DEFAULT-VALUE} = none).")
    int clipSkip;

    @Option(names = "--prediction-type", paramLabel = "TYPE",
            description = "epsilon or v_prediction, overriding the model's (SD 2.x 768-v models need v_prediction).")
    String predictionType;

    @Option(names = "--config", paramLabel = "DIR",
            description = "A diffusers-style config folder for a single-file checkpoint.")
    Path configDir;

    @Option(names = "--original-size", paramLabel = "W,H",
            description = "SDXL: the size the model is told the source image had (default: the image size).")
    String originalSize;

    @Option(names = "--crop-top-left", paramLabel = "X,Y",
            description = "SDXL: the crop offset the model is told of (default: 0,0).")
    String cropTopLeft;

    @Option(names = "--target-size", paramLabel = "W,H",
            description = "SDXL: the size the model is told the result should have (default: the image size).")
    String targetSize;

    @Option(names = "--no-watermark",
            description = "Do not add the invisible watermark (by default images of 256x256 pixels in area or more get it).")
    boolean noWatermark;

    @Option(names = "--output", paramLabel = "FILE",
            description = "The PNG to write; with --batch-size > 1, FILE-1.png, FILE-2.png, ... Its folder must exist.")
    Path output;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--lora", paramLabel = "FILE[:WEIGHT]",
            description = "A LoRA to merge in, with its weight (default 1); repeatable. With --models-dir also a name from models/Lora. "
                    + "<lora:NAME:WEIGHT> in the prompt does the same.")
    List<String> loras = new ArrayList<>();

    @Option(names = "--vae", paramLabel = "FILE", description = "Another VAE: a file (original or diffusers layout) or a diffusers vae folder; "
            + "with --models-dir also a name from models/VAE.")
    Path vae;

    @Option(names = "--models-dir", paramLabel = "DIR",
            description = "An AUTOMATIC1111 folder (models/Stable-diffusion, models/Lora, models/VAE, ...) to find models by name.")
    Path modelsDir;

    /** What turns a request into images: {@link Txt2Img#run}, or a stand-in in tests. */
    interface Pipeline {
        List<GeneratedImage> run(Txt2ImgRequest request, StepListener listener);

        /** The run with LoRAs or another VAE on the model; a stand-in that cannot apply them refuses. */
        default List<GeneratedImage> run(Txt2ImgRequest request, ModelAddons addons, StepListener listener) {
            if (!addons.isEmpty()) throw new UnsupportedOperationException("this pipeline cannot apply LoRAs or a VAE");
            return run(request, listener);
        }
    }

    /** The real pipeline, add-ons included. */
    static final Pipeline TXT2IMG = new Pipeline() {
        @Override
        public List<GeneratedImage> run(Txt2ImgRequest request, StepListener listener) {
            return Txt2Img.run(request, listener);
        }

        @Override
        public List<GeneratedImage> run(Txt2ImgRequest request, ModelAddons addons, StepListener listener) {
            return Txt2Img.run(request, addons, listener);
        }
    };

    private final Path workDir;
    private final Pipeline pipeline;
    /** Where Hub models come from; tests point it at a stand-in. */
    Supplier<HubSettings> hubSettings = HubSettings::fromEnvironment;

    Txt2ImgCommand(Path workDir, Pipeline pipeline) {
        this.workDir = workDir;
        this.pipeline = pipeline;
    }

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();

        // everything the user gave is checked before any work starts
        checkSampler(sampler);
        ModelsDir models = modelsDir == null ? null : ModelsDir.open(modelsDir);
        if (model == null) useTurboRecipeUnlessGiven();
        if (models != null && model != null && !Files.exists(model) && !ModelSource.isHubId(model.toString())) {
            model = models.find(ModelsDir.Kind.CHECKPOINT, model.toString());
        } else {
            model = ModelSource.resolve(model == null ? null : model.toString(), hubSettings.get(), err);
        }
        checkModelPath(model);
        ExtraNetworks tags = ExtraNetworks.extract(prompt);
        ModelAddons addons = addons(models, tags);
        if (configDir != null && !Files.isDirectory(configDir)) {
            throw new JDiffusionException("--config: " + configDir + ": no such directory");
        }
        if (threads != null && threads < 1) throw new JDiffusionException("--threads: " + threads + " must be at least 1");
        boolean randomSeed = seed.strip().equals("-1");
        Txt2ImgRequest request = new Txt2ImgRequest(model, configDir, tags.prompt(), negativePrompt, sampler, steps, cfgScale,
                randomSeed ? randomSeed() : parseSeed(seed), width, height, batchSize, clipSkip, predictionType,
                !noWatermark, sizeConditioning()).validate();
        Path outputFolder = output != null ? checkOutputFile(output)
                : checkCreatable(workDir.resolve("outputs").resolve("txt2img"));

        if (threads != null) Parallel.setThreads(threads);

        List<GeneratedImage> images;
        try (ProgressBar progress = ProgressBar.forStderr(err)) {
            images = pipeline.run(request, addons, progress);
        }
        for (Path written : write(request, images, outputFolder)) out.println(written);
        // told once the images exist, so a failed run still prints exactly one error line
        if (randomSeed) err.println("seed: " + Long.toUnsignedString(request.seed()));
        String watermarkNote = OutputWatermark.skippedNote(request.watermark(), width, height);
        if (watermarkNote != null) err.println("note: " + watermarkNote);
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

    /** The SDXL size flags, each defaulting as diffusers does; null when none is given (the request's defaults). */
    private SizeConditioning sizeConditioning() {
        if (originalSize == null && cropTopLeft == null && targetSize == null) return null;
        int[] original = originalSize == null ? new int[]{width, height} : pair("--original-size", originalSize);
        int[] crop = cropTopLeft == null ? new int[]{0, 0} : pair("--crop-top-left", cropTopLeft);
        int[] target = targetSize == null ? new int[]{width, height} : pair("--target-size", targetSize);
        return new SizeConditioning(original[0], original[1], crop[0], crop[1], target[0], target[1]);
    }

    /** "A,B" (or "AxB") → {A, B}. */
    static int[] pair(String flag, String text) {
        String[] parts = text.strip().split("\\s*[,xX]\\s*");
        try {
            if (parts.length == 2) return new int[]{Integer.parseInt(parts[0]), Integer.parseInt(parts[1])};
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new JDiffusionException(flag + ": '" + text + "' is not two whole numbers like 1024,1024");
    }

    /** --lora and --vae, and the prompt's <lora:NAME:WEIGHT> and <hypernet:NAME:STRENGTH> tags found in the models folder. */
    private ModelAddons addons(ModelsDir models, ExtraNetworks tags) {
        List<LoraSpec> specs = new ArrayList<>();
        for (String arg : loras) {
            LoraSpec spec = LoraSpec.parse(arg);
            if (models != null && !Files.exists(spec.file())) {
                spec = new LoraSpec(models.find(ModelsDir.Kind.LORA, spec.file().toString()), spec.textEncoderWeight(), spec.unetWeight());
            }
            if (!Files.isRegularFile(spec.file())) throw new JDiffusionException("--lora: " + spec.file() + ": no such file");
            specs.add(spec);
        }
        for (ExtraNetworks.LoraTag tag : tags.loras()) {
            if (models == null) throw new JDiffusionException("prompt: <lora:" + tag.name() + ":...> needs --models-dir to find the LoRA");
            specs.add(new LoraSpec(models.find(ModelsDir.Kind.LORA, tag.name()), tag.textEncoderWeight(), tag.unetWeight()));
        }
        List<ModelAddons.HypernetworkSpec> hypernetworks = new ArrayList<>();
        for (ExtraNetworks.HypernetTag tag : tags.hypernets()) {
            if (models == null) throw new JDiffusionException("prompt: <hypernet:" + tag.name() + ":...> needs --models-dir to find the hypernetwork");
            hypernetworks.add(new ModelAddons.HypernetworkSpec(models.find(ModelsDir.Kind.HYPERNETWORK, tag.name()), tag.strength()));
        }
        Path vaePath = vae;
        if (vaePath != null && models != null && !Files.exists(vaePath)) vaePath = models.find(ModelsDir.Kind.VAE, vaePath.toString());
        if (vaePath != null && !Files.exists(vaePath)) throw new JDiffusionException("--vae: " + vaePath + ": no such file or directory");
        return new ModelAddons(specs, vaePath, hypernetworks);
    }

    /** The default model is SD-Turbo: one step without guidance, as its model card prescribes, unless the user said otherwise. */
    private void useTurboRecipeUnlessGiven() {
        var parsed = spec.commandLine().getParseResult();
        if (!parsed.hasMatchedOption("--steps")) steps = 1;
        if (!parsed.hasMatchedOption("--cfg-scale")) cfgScale = 0;
    }

    static void checkSampler(String id) {
        SamplerId.parse(id);
    }

    private static void checkModelPath(Path model) {
        if (!Files.exists(model)) throw new JDiffusionException("--model: " + model + ": no such file or directory");
        if (!Files.isReadable(model)) throw new JDiffusionException("--model: " + model + ": not readable");
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
    private static long randomSeed() {
        return RandomGenerator.getDefault().nextLong(1L << 32);
    }

    /** The folder --output writes into, which must already exist. */
    private static Path checkOutputFile(Path file) {
        if (!file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".png")) {
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
        } catch (java.io.IOException e) {
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
