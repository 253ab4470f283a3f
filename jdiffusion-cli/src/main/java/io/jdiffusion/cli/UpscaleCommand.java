package io.jdiffusion.cli;

import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.UpscalerConfig;
import io.jdiffusion.pipeline.RgbImage;
import io.jdiffusion.pipeline.Upscale;
import io.jdiffusion.pipeline.UpscaleRequest;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;

/** {@code jdiffusion upscale}: a picture made four times larger by the SD x4 upscaler, its detail drawn under a prompt. */
@Command(name = "upscale",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = "Enlarge a picture with the SD x4 upscaler (stabilityai/stable-diffusion-x4-upscaler), guided by a prompt.",
        footer = {"", "The output is the picture's size (each side rounded down to a multiple of 4) times 4.",
                "The SD x4 upscaler's UNet runs at the picture's full size: start small (128x128 makes 512x512).",
                "Without --output, images go to outputs/upscale/NNNNN-SEED.png (next free number)."})
final class UpscaleCommand implements Callable<Integer> {
    /** The model's own scheduler (DDIM), used unless --sampler says otherwise. */
    static final String DEFAULT_SAMPLER = "ddim";

    @Spec
    CommandSpec spec;

    @Mixin
    GenerationOptions options;

    @Option(names = "--init-image", required = true, paramLabel = "IMAGE",
            description = "The picture to enlarge (PNG, JPEG, BMP or GIF).")
    Path initImage;

    @Option(names = "--noise-level", paramLabel = "N", defaultValue = "" + UpscalerConfig.DEFAULT_NOISE_LEVEL,
            description = "Noise put on the picture before the model sees it, 0..the model's max_noise_level (350): "
                    + "more lets the model invent more detail (default: ${DEFAULT-VALUE}).")
    int noiseLevel;

    private final Path workDir;

    UpscaleCommand(Path workDir) {
        this.workDir = workDir;
    }

    /**
     * The command with the shared generation flags' help and defaults made right for it: the model must be
     * given (there is no default upscaler), the sampler defaults to the model's own DDIM, SDXL's flags are hidden.
     */
    static CommandLine commandLine(Path workDir) {
        CommandLine cl = new CommandLine(new UpscaleCommand(workDir));
        Map<String, UnaryOperator<OptionSpec.Builder>> changes = Map.of(
                "--model", option -> option.required(true).description(
                        "The SD x4 upscaler: a diffusers folder, its single file (x4-upscaler-ema.safetensors), or a Hugging Face "
                                + "repository such as stabilityai/stable-diffusion-x4-upscaler."),
                "--sampler", option -> option.defaultValue(DEFAULT_SAMPLER).description(
                        "One of: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}, the model's own scheduler)."),
                "--steps", option -> option.description("Sampling steps (default: " + GenerationOptions.DEFAULT_STEPS + ")."),
                "--cfg-scale", option -> option.description("Classifier-free guidance scale (default: " + GenerationOptions.DEFAULT_CFG + ")."),
                // SDXL's size conditioning means nothing to an SD 2.x model
                "--original-size", option -> option.hidden(true),
                "--crop-top-left", option -> option.hidden(true),
                "--target-size", option -> option.hidden(true));
        // options are listed in the order they were added: re-add every one after the first changed, in order
        CommandSpec spec = cl.getCommandSpec();
        List<OptionSpec> options = new ArrayList<>(spec.options());
        int first = options.indexOf(spec.findOption("--model"));
        for (OptionSpec option : options.subList(first, options.size())) {
            if (option.usageHelp() || option.versionHelp()) continue;
            spec.remove(option);
            UnaryOperator<OptionSpec.Builder> change = changes.getOrDefault(option.longestName(), UnaryOperator.identity());
            spec.addOption(change.apply(OptionSpec.builder(option)).build());
        }
        return cl;
    }

    @Override
    public Integer call() {
        options.check(spec.commandLine().getErr());
        RgbImage image = RgbImage.read(initImage, "--init-image");
        UpscaleRequest request = new UpscaleRequest(options.request(0, 0), image, noiseLevel).validate();
        // the output size (for the messages after the run) follows from the VAE's factor, known from its config
        int factor = ModelLoader.load(options.model, options.configDir).vaeConfig().downscaleFactor();
        return options.generate(spec.commandLine().getOut(), spec.commandLine().getErr(), workDir, "upscale",
                request.resolvedParams(factor), listener -> Upscale.run(request, options.addons(), listener));
    }
}
