package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.UpscalerConfig;
import io.jdiffusion.pipeline.RgbImage;
import io.jdiffusion.pipeline.Upscale;
import io.jdiffusion.pipeline.UpscaleRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jdiffusion upscale}: a picture made four times larger by the SD x4 upscaler, its detail drawn under a prompt. */
@Command(name = "upscale",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = "Enlarge a picture with the SD x4 upscaler (stabilityai/stable-diffusion-x4-upscaler), guided by a prompt.",
        footer = {"", "The output is the picture's size (each side rounded down to a multiple of 4) times 4. Without --sampler",
                "the model's own DDIM schedule is used. The SD x4 upscaler's UNet runs at the picture's full size:",
                "start small (128x128 makes 512x512).",
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

    @Override
    public Integer call() {
        if (options.model == null) {
            throw new JDiffusionException("--model: give the upscaler model (a diffusers folder or stabilityai/stable-diffusion-x4-upscaler)");
        }
        if (!spec.commandLine().getParseResult().hasMatchedOption("--sampler")) options.sampler = DEFAULT_SAMPLER;
        options.check(spec.commandLine().getErr());
        RgbImage image = RgbImage.read(initImage, "--init-image");
        UpscaleRequest request = new UpscaleRequest(options.request(0, 0), image, noiseLevel).validate();
        // the output size (for the messages after the run) follows from the VAE's factor, known from its config
        int factor = ModelLoader.load(options.model, options.configDir).vaeConfig().downscaleFactor();
        return options.generate(spec.commandLine().getOut(), spec.commandLine().getErr(), workDir, "upscale",
                request.resolvedParams(factor), listener -> Upscale.run(request, options.addons(), listener));
    }
}
