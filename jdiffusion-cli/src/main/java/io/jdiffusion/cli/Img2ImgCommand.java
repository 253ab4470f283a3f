package io.jdiffusion.cli;

import io.jdiffusion.pipeline.Img2Img;
import io.jdiffusion.pipeline.Img2ImgRequest;
import io.jdiffusion.pipeline.RgbImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jdiffusion img2img}: a picture and a prompt in, a changed picture out. */
@Command(name = "img2img",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = "Change a picture with a text prompt.",
        footer = {"", "Without --output, images go to outputs/img2img/NNNNN-SEED.png (next free number)."})
final class Img2ImgCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    GenerationOptions options;

    @Mixin
    InitImageOptions image;

    @Option(names = "--strength", paramLabel = "S", defaultValue = "0.75",
            description = "Denoising strength in (0, 1]: how far to move from the init image (default: ${DEFAULT-VALUE}).")
    double strength;

    private final Path workDir;

    Img2ImgCommand(Path workDir) {
        this.workDir = workDir;
    }

    @Override
    public Integer call() {
        options.check(spec.commandLine().getErr());
        RgbImage init = image.read();
        Img2ImgRequest request = options.request(image.widthOrZero(), image.heightOrZero(),
                params -> new Img2ImgRequest(params, init, strength, image.mode()), Img2ImgRequest::resolvedParams).validate();
        return options.generate(spec.commandLine().getOut(), spec.commandLine().getErr(), workDir, "img2img",
                request.resolvedParams(), listener -> Img2Img.run(request, options.addons(), listener));
    }
}
