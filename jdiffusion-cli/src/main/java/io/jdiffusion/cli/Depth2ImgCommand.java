package io.jdiffusion.cli;

import io.jdiffusion.pipeline.Depth2Img;
import io.jdiffusion.pipeline.Depth2ImgRequest;
import io.jdiffusion.pipeline.DepthMaps;
import io.jdiffusion.pipeline.Img2ImgRequest;
import io.jdiffusion.pipeline.RgbImage;
import io.jdiffusion.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jdiffusion depth2img}: a picture's structure (its depth) kept, its look changed by a prompt (SD 2 depth model). */
@Command(name = "depth2img",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = "Repaint a picture with a text prompt, keeping its depth (SD 2 depth model).",
        footer = {"", "Without --depth-map the depth is estimated from the init image by the model folder's DPT",
                "estimator (depth_estimator/), or by the one --depth-model names.",
                "Without --output, images go to outputs/depth2img/NNNNN-SEED.png (next free number)."})
final class Depth2ImgCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    GenerationOptions options;

    @Mixin
    InitImageOptions image;

    @Option(names = "--strength", paramLabel = "S", defaultValue = "0.8",
            description = "Denoising strength in (0, 1]: how far to move from the init image (default: ${DEFAULT-VALUE}).")
    double strength;

    @Option(names = "--depth-map", paramLabel = "IMAGE",
            description = "Depth as an 8- or 16-bit grayscale image, larger = nearer (any size and range: it is resized and normalised).")
    Path depthMap;

    @Option(names = "--depth-model", paramLabel = "DIR",
            description = "DPT depth estimator folder (transformers layout: config.json, model.safetensors, preprocessor_config.json), "
                    + "for models without depth_estimator/ such as single files.")
    Path depthModel;

    private final Path workDir;

    Depth2ImgCommand(Path workDir) {
        this.workDir = workDir;
    }

    @Override
    public Integer call() {
        options.check(spec.commandLine().getErr());
        RgbImage init = image.read();
        Tensor depth = depthMap == null ? null : DepthMaps.read(depthMap, "--depth-map");
        Depth2ImgRequest request = options.request(image.widthOrZero(), image.heightOrZero(),
                params -> new Depth2ImgRequest(new Img2ImgRequest(params, init, strength, image.mode()), depth, depthModel),
                Depth2ImgRequest::resolvedParams).validate();
        return options.generate(spec.commandLine().getOut(), spec.commandLine().getErr(), workDir, "depth2img",
                request.resolvedParams(), listener -> Depth2Img.run(request, options.addons(), listener));
    }
}
