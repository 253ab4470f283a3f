package io.jdiffusion.cli;

import io.jdiffusion.pipeline.Inpaint;
import io.jdiffusion.pipeline.InpaintRequest;
import io.jdiffusion.pipeline.MaskedContent;
import io.jdiffusion.pipeline.RgbImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jdiffusion inpaint}: repaint the masked part of a picture. */
@Command(name = "inpaint",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = "Repaint the white part of a mask in a picture, with ordinary or inpainting models.",
        footer = {"", "Without --output, images go to outputs/inpaint/NNNNN-SEED.png (next free number)."})
final class InpaintCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    GenerationOptions options;

    @Mixin
    InitImageOptions image;

    @Option(names = "--mask", required = true, paramLabel = "IMAGE",
            description = "The mask, the init image's size: white = repaint, black = keep (colours count by their brightness).")
    Path mask;

    @Option(names = "--invert-mask", description = "Repaint the black part instead.")
    boolean invertMask;

    @Option(names = "--mask-blur", paramLabel = "PX", defaultValue = "4",
            description = "Feather the edge where the original is pasted back, in pixels (default: ${DEFAULT-VALUE}).")
    int maskBlur;

    @Option(names = "--no-overlay",
            description = "Return the decoded image as it is, without pasting the original back outside the mask.")
    boolean noOverlay;

    @Option(names = "--strength", paramLabel = "S", defaultValue = "0.75",
            description = "Denoising strength in (0, 1]; 1 repaints the masked part from pure noise (default: ${DEFAULT-VALUE}).")
    double strength;

    @Option(names = "--masked-content", paramLabel = "WHAT", defaultValue = "original",
            description = "What the masked area starts from below strength 1 (A1111's \"Masked content\"): fill, original, "
                    + "latent-noise, latent-nothing (default: ${DEFAULT-VALUE}).")
    String maskedContent;

    @Option(names = "--only-masked",
            description = "Inpaint only a crop around the mask, at the output size, and paste it back into the picture "
                    + "(A1111's \"Inpaint area: Only masked\"); the picture keeps its size.")
    boolean onlyMasked;

    @Option(names = "--only-masked-padding", paramLabel = "PX", defaultValue = "32",
            description = "With --only-masked, the pixels of context around the mask (default: ${DEFAULT-VALUE}).")
    int onlyMaskedPadding;

    private final Path workDir;

    InpaintCommand(Path workDir) {
        this.workDir = workDir;
    }

    @Override
    public Integer call() {
        options.check(spec.commandLine().getErr());
        RgbImage init = image.read(), maskImage = RgbImage.read(mask, "--mask");
        MaskedContent content = MaskedContent.parse(maskedContent);
        InpaintRequest request = options.request(image.widthOrZero(), image.heightOrZero(),
                params -> new InpaintRequest(params, init, maskImage, strength, image.mode(), invertMask, maskBlur, !noOverlay,
                        content, onlyMasked, onlyMaskedPadding),
                InpaintRequest::resolvedParams).validate();
        return options.generate(spec.commandLine().getOut(), spec.commandLine().getErr(), workDir, "inpaint",
                request.resolvedParams(), listener -> Inpaint.run(request, options.addons(), listener));
    }
}
