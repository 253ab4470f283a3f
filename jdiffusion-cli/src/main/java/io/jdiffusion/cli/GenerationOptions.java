package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.hub.HubSettings;
import io.jdiffusion.hub.ModelSource;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.TaesdLoader;
import io.jdiffusion.model.addon.ExtraNetworks;
import io.jdiffusion.model.addon.LoraSpec;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.model.addon.ModelsDir;
import io.jdiffusion.pipeline.AestheticScores;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.LatentPreview;
import io.jdiffusion.pipeline.SizeConditioning;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.prompt.EmbeddingFile;
import io.jdiffusion.prompt.Embeddings;
import io.jdiffusion.sampling.SamplerId;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.tensor.Parallel;
import io.jdiffusion.watermark.OutputWatermark;
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
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * The flags every generating command shares (model, prompts, sampler, seed, batch, embeddings, LoRAs, VAE,
 * models folder, SDXL size conditioning, watermark, output, ...), and the steps around the pipeline they
 * share: checking the flags, the progress bar, writing the PNGs.
 */
final class GenerationOptions {

    @Option(names = "--model", paramLabel = "PATH",
            description = "A checkpoint file (.safetensors, .ckpt), a diffusers model folder, or a Hugging Face repository "
                    + "owner/name[@revision] (downloaded into the Hugging Face cache); with --models-dir also a checkpoint's name. "
                    + "Default: " + ModelSource.DEFAULT_MODEL + ", with 1 step and cfg 0 unless given.")
    Path model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "What to draw.")
    String prompt;

    @Option(names = "--negative-prompt", paramLabel = "TEXT", defaultValue = "",
            description = "What to steer away from (default: none).")
    String negativePrompt;

    @Option(names = "--sampler", paramLabel = "ID", defaultValue = "euler_a", completionCandidates = SamplerIds.class,
            description = "One of: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    String sampler;

    @Option(names = "--steps", paramLabel = "N",
            description = "Sampling steps (default: " + DEFAULT_STEPS + "; 1 with the default Turbo model).")
    Integer steps;

    @Option(names = "--cfg-scale", paramLabel = "F",
            description = "Classifier-free guidance scale (default: " + DEFAULT_CFG + "; 0 with the default Turbo model).")
    Double cfgScale;

    static final int DEFAULT_STEPS = 20;
    static final double DEFAULT_CFG = 7.5;

    /** Where Hugging Face repositories come from (the environment; tests point it at a stand-in Hub). */
    Supplier<HubSettings> hubSettings = HubSettings::fromEnvironment;

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
            description = "A textual-inversion embedding (.pt, .bin or .safetensors) that TOKEN in the prompts calls; repeatable.")
    List<String> embeddingSpecs = new ArrayList<>();

    @Option(names = "--embeddings-dir", paramLabel = "DIR",
            description = "Every embedding (.pt, .bin, .safetensors) in DIR, called by its file name without the extension "
                    + "(default with --models-dir: its embeddings folder). Files made for another model family are skipped.")
    Path embeddingsDir;

    @Option(names = "--config", paramLabel = "DIR",
            description = "A diffusers-style config folder for a single-file checkpoint.")
    Path configDir;

    @Option(names = "--lora", paramLabel = "FILE[:WEIGHT]",
            description = "A LoRA to merge in, with its weight (default 1); repeatable. With --models-dir also a name from models/Lora. "
                    + "<lora:NAME:WEIGHT> in the prompt does the same.")
    List<String> loras = new ArrayList<>();

    @Option(names = "--vae", paramLabel = "FILE", description = "Another VAE: a file (original or diffusers layout) or a diffusers vae folder; "
            + "with --models-dir also a name from models/VAE. A TAESD file or folder, or 'taesd' (the tiny autoencoder from the Hub: "
            + TaesdLoader.HUB_SD + ", " + TaesdLoader.HUB_SDXL + " for SDXL), decodes fast in little memory.")
    Path vae;

    /** --vae's word for the Hub's TAESD of the model's family. */
    static final String TAESD = "taesd";

    @Option(names = "--models-dir", paramLabel = "DIR",
            description = "An AUTOMATIC1111 folder (models/Stable-diffusion, models/Lora, models/VAE, ...) to find models by name.")
    Path modelsDir;

    @Option(names = "--original-size", paramLabel = "W,H",
            description = "SDXL: the size the model is told the source image had (default: the image size).")
    String originalSize;

    @Option(names = "--crop-top-left", paramLabel = "X,Y",
            description = "SDXL: the crop offset the model is told of (default: 0,0).")
    String cropTopLeft;

    @Option(names = "--target-size", paramLabel = "W,H",
            description = "SDXL: the size the model is told the result should have (default: the image size).")
    String targetSize;

    @Option(names = "--aesthetic-score", paramLabel = "F",
            description = "SDXL refiner: the aesthetic score (0..10) the prompt asks for (default: 6).")
    Double aestheticScore;

    @Option(names = "--negative-aesthetic-score", paramLabel = "F",
            description = "SDXL refiner: the aesthetic score (0..10) the negative prompt asks for (default: 2.5).")
    Double negativeAestheticScore;

    @Option(names = "--no-watermark",
            description = "Do not add the invisible watermark (by default images of 256x256 pixels in area or more get it).")
    boolean noWatermark;

    @Option(names = "--output", paramLabel = "FILE",
            description = "The PNG to write; with --batch-size > 1, FILE-1.png, FILE-2.png, ... Its folder must exist.")
    Path output;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--preview-every", paramLabel = "N",
            description = "Write a preview of the first image (see --preview) to --preview-file every N steps and after the last.")
    Integer previewEvery;

    @Option(names = "--preview", paramLabel = "KIND", defaultValue = "linear",
            description = "How --preview-every draws: linear (a latent→RGB mix at 1/8 size, no network) or taesd (the tiny autoencoder "
                    + "at full size: the --vae TAESD, else 'taesd' from the Hub) (default: ${DEFAULT-VALUE}).")
    String preview;

    @Option(names = "--preview-file", paramLabel = "FILE",
            description = "The PNG the previews replace, atomically (with --preview-every; alone: every step). Its folder must exist.")
    Path previewFile;

    private Long resolvedSeed;
    private List<EmbeddingFile> embeddings;
    private ExtraNetworks tags;
    private ModelAddons addons;
    private Path previewTaesd; // what --preview taesd decodes with (null: the linear previews); set by check()

    /**
     * Checks what needs no model: sampler, model path (found by name with --models-dir), config folder,
     * threads, embeddings, LoRAs, VAE and the prompt's {@code <lora:...>}/{@code <hypernet:...>} tags.
     */
    void check(PrintWriter err) {
        SamplerId.parse(sampler);
        ModelsDir models = modelsDir == null ? null : ModelsDir.open(modelsDir);
        boolean hubModel = model == null || !Files.exists(model) && ModelSource.isHubId(model.toString());
        if (model == null) {
            // the default model is a Turbo model: one step without guidance, unless the user says otherwise
            if (steps == null) steps = 1;
            if (cfgScale == null) cfgScale = 0.0;
        }
        if (steps == null) steps = DEFAULT_STEPS;
        if (cfgScale == null) cfgScale = DEFAULT_CFG;
        if (!hubModel) {
            if (models != null && !Files.exists(model)) model = models.find(ModelsDir.Kind.CHECKPOINT, model.toString());
            if (!Files.exists(model)) throw new JDiffusionException("--model: " + model + ": no such file or directory");
            if (!Files.isReadable(model)) throw new JDiffusionException("--model: " + model + ": not readable");
        }
        tags = ExtraNetworks.extract(prompt);
        addons = addons(models, tags);
        if (configDir != null && !Files.isDirectory(configDir)) {
            throw new JDiffusionException("--config: " + configDir + ": no such directory");
        }
        if (threads != null && threads < 1) throw new JDiffusionException("--threads: " + threads + " must be at least 1");
        checkPreview();
        embeddings = new ArrayList<>();
        if (embeddingsDir != null) embeddings.addAll(EmbeddingFile.inDirectory(embeddingsDir));
        else if (models != null) embeddings.addAll(EmbeddingFile.inModelsDir(models)); // A1111's embeddings/ folder
        for (String spec : embeddingSpecs) embeddings.add(EmbeddingFile.parse(spec)); // a named one wins over the folder's
        Embeddings.load(embeddings); // unreadable files fail before the model loads
        // last, so that a mistake in any other flag is reported before a download starts
        if (hubModel) model = ModelSource.resolve(model == null ? null : model.toString(), hubSettings.get(), err);
        resolveTaesd(err);
    }

    /**
     * --vae taesd and --preview taesd: the Hub's TAESD for the model's family (downloaded once into the Hugging Face
     * cache); a --vae naming a TAESD file or folder serves the previews too.
     */
    private void resolveTaesd(PrintWriter err) {
        boolean taesdWord = addons.vae() != null && isTaesdWord(addons.vae());
        boolean taesdPreview = preview.equalsIgnoreCase(TAESD) && previewFile != null;
        if (taesdPreview && addons.vae() != null && !taesdWord && TaesdLoader.isTaesd(addons.vae())) previewTaesd = addons.vae();
        if (!taesdWord && (!taesdPreview || previewTaesd != null)) return;
        String repo = TaesdLoader.hubRepo(ModelLoader.load(model, configDir).family());
        Path hubTaesd = ModelSource.resolveComponent(repo, hubSettings.get(), err);
        if (taesdWord) addons = new ModelAddons(addons.loras(), hubTaesd, addons.hypernetworks());
        if (taesdPreview && previewTaesd == null) previewTaesd = hubTaesd;
    }

    /** Whether --vae is the word taesd rather than a file of that name. */
    private static boolean isTaesdWord(Path vae) {
        return vae.toString().equalsIgnoreCase(TAESD) && !Files.exists(vae);
    }

    /** What goes on the model: --lora, --vae and the prompt's tags (after {@link #check()}). */
    ModelAddons addons() {
        return addons;
    }

    boolean randomSeed() {
        return seed.strip().equals("-1");
    }

    /** The request these flags describe, at this size (after {@link #check()}); the SDXL size flags default to it. */
    Txt2ImgRequest request(int width, int height) {
        return request(width, height, sizeConditioning(width, height));
    }

    /**
     * The request of a command that starts from a picture, whose output size the pipeline decides:
     * {@code build} makes the command's request from the parameters at this size (0 = from the picture), and
     * the SDXL size flags default to the size {@code resolvedParams} arrives at.
     */
    <R> R request(int width, int height, Function<Txt2ImgRequest, R> build, Function<R, Txt2ImgRequest> resolvedParams) {
        R draft = build.apply(request(width, height, null));
        if (!sizeFlagsGiven()) return draft;
        Txt2ImgRequest resolved = resolvedParams.apply(draft);
        return build.apply(request(resolved.width(), resolved.height()));
    }

    private Txt2ImgRequest request(int width, int height, SizeConditioning sizes) {
        if (resolvedSeed == null) resolvedSeed = randomSeed() ? randomSeedValue() : parseSeed(seed);
        return new Txt2ImgRequest(model, configDir, prompt, negativePrompt, sampler, steps,
                cfgScale, resolvedSeed, width, height, batchSize, clipSkip, predictionType, !noWatermark, sizes,
                embeddings == null ? List.of() : embeddings, aestheticScores());
    }

    /** --aesthetic-score and --negative-aesthetic-score, each defaulting as diffusers does; null when neither is given. */
    private AestheticScores aestheticScores() {
        if (aestheticScore == null && negativeAestheticScore == null) return null;
        return new AestheticScores(aestheticScore != null ? aestheticScore : AestheticScores.DEFAULT.positive(),
                negativeAestheticScore != null ? negativeAestheticScore : AestheticScores.DEFAULT.negative());
    }

    /**
     * Another model a command takes beside --model (txt2img's --refiner): a file or folder, a Hugging Face repository
     * owner/name[@revision], or with --models-dir a checkpoint's name there.
     */
    Path otherModel(String flag, Path path, PrintWriter err) {
        if (!Files.exists(path)) {
            if (ModelSource.isHubId(path.toString())) return ModelSource.resolve(path.toString(), hubSettings.get(), err);
            if (modelsDir != null) path = ModelsDir.open(modelsDir).find(ModelsDir.Kind.CHECKPOINT, path.toString());
        }
        if (!Files.exists(path)) throw new JDiffusionException(flag + ": " + path + ": no such file or directory");
        if (!Files.isReadable(path)) throw new JDiffusionException(flag + ": " + path + ": not readable");
        return path;
    }

    /** The SDXL size flags, each defaulting as diffusers does; null when none is given (the request's defaults). */
    private SizeConditioning sizeConditioning(int width, int height) {
        if (!sizeFlagsGiven()) return null;
        int[] original = originalSize == null ? new int[]{width, height} : pair("--original-size", originalSize);
        int[] crop = cropTopLeft == null ? new int[]{0, 0} : pair("--crop-top-left", cropTopLeft);
        int[] target = targetSize == null ? new int[]{width, height} : pair("--target-size", targetSize);
        return new SizeConditioning(original[0], original[1], crop[0], crop[1], target[0], target[1]);
    }

    private boolean sizeFlagsGiven() {
        return originalSize != null || cropTopLeft != null || targetSize != null;
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
        ModelAddons tagged = ModelAddons.fromTags(tags, models);
        specs.addAll(tagged.loras());
        List<ModelAddons.HypernetworkSpec> hypernetworks = tagged.hypernetworks();
        Path vaePath = vae;
        if (vaePath != null && isTaesdWord(vaePath)) return new ModelAddons(specs, vaePath, hypernetworks); // resolved after the model
        if (vaePath != null && models != null && !Files.exists(vaePath)) vaePath = models.find(ModelsDir.Kind.VAE, vaePath.toString());
        if (vaePath != null && !Files.exists(vaePath)) throw new JDiffusionException("--vae: " + vaePath + ": no such file or directory");
        return new ModelAddons(specs, vaePath, hypernetworks);
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
            images = pipeline.apply(withPreview(progress));
        }
        for (Path written : write(request, images, outputFolder)) out.println(written);
        // told once the images exist, so a failed run still prints exactly one error line
        if (randomSeed()) err.println("seed: " + Long.toUnsignedString(request.seed()));
        String watermarkNote = OutputWatermark.skippedNote(request.watermark(), request.width(), request.height());
        if (watermarkNote != null) err.println("note: " + watermarkNote);
        return 0;
    }

    /** --preview-every and --preview-file: a positive interval, and a PNG file name in a folder that exists. */
    private void checkPreview() {
        if (!preview.equalsIgnoreCase("linear") && !preview.equalsIgnoreCase(TAESD)) {
            throw new JDiffusionException("--preview: '" + preview + "' is not linear or taesd");
        }
        if (previewEvery == null && previewFile == null) return;
        if (previewFile == null) throw new JDiffusionException("--preview-every: give --preview-file FILE to write the previews to");
        if (previewEvery != null && previewEvery < 1) {
            throw new JDiffusionException("--preview-every: " + previewEvery + " must be at least 1");
        }
        if (!previewFile.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
            throw new JDiffusionException("--preview-file: " + previewFile + ": previews are PNG; use a name ending in .png");
        }
        if (Files.isDirectory(previewFile)) throw new JDiffusionException("--preview-file: " + previewFile + " is a directory");
        Path folder = previewFile.toAbsolutePath().getParent();
        if (folder == null || !Files.isDirectory(folder)) {
            throw new JDiffusionException("--preview-file: " + previewFile + ": the folder " + folder + " does not exist");
        }
    }

    /**
     * The progress listener, also writing previews when asked: decoded by the TAESD with --preview taesd, else the
     * linear mix (the model's family picks it).
     */
    private StepListener withPreview(StepListener progress) {
        if (previewFile == null) return progress;
        int every = previewEvery == null ? 1 : previewEvery;
        StepListener preview = previewTaesd != null ? LatentPreview.taesdWriter(previewFile, every, TaesdLoader.load(previewTaesd))
                : LatentPreview.writer(previewFile, every, ModelLoader.load(model, configDir).family());
        return (step, total, latents) -> {
            preview.onStep(step, total, latents);
            return progress.onStep(step, total, latents);
        };
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
