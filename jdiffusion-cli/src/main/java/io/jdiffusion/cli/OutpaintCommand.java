package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.pipeline.OutpaintRequest;
import io.jdiffusion.pipeline.Outpaint;
import io.jdiffusion.pipeline.RgbImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jdiffusion outpaint}: grow a picture's canvas and paint the new area. */
@Command(name = "outpaint",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = "Extend a picture beyond its edges, with ordinary or inpainting models.",
        footer = {"", "Without --output, images go to outputs/outpaint/NNNNN-SEED.png (next free number)."})
final class OutpaintCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    GenerationOptions options;

    @Option(names = "--init-image", required = true, paramLabel = "IMAGE",
            description = "The picture to extend (PNG, JPEG, BMP or GIF).")
    Path initImage;

    @Option(names = "--extend", required = true, paramLabel = "L,T,R,B",
            description = "Pixels to add on the left, top, right and bottom, each rounded up to a multiple of 8.")
    String extend;

    @Option(names = "--overlap", paramLabel = "PX", defaultValue = "" + OutpaintRequest.DEFAULT_OVERLAP,
            description = "How far the repainted area reaches into the original along the extended edges (default: ${DEFAULT-VALUE}).")
    int overlap;

    @Option(names = "--strength", paramLabel = "S",
            description = "Denoising strength in (0, 1] (default: 1 with inpainting models, 0.8 with others).")
    Double strength;

    @Option(names = "--no-overlay", description = "Return the decoded image as it is, without pasting the original back.")
    boolean noOverlay;

    private final Path workDir;

    OutpaintCommand(Path workDir) {
        this.workDir = workDir;
    }

    @Override
    public Integer call() {
        options.check(spec.commandLine().getErr());
        int[] sides = parseExtend(extend);
        RgbImage init = RgbImage.read(initImage, "--init-image");
        OutpaintRequest request = options.request(0, 0,
                params -> new OutpaintRequest(params, init, sides[0], sides[1], sides[2], sides[3], strength, overlap, !noOverlay),
                OutpaintRequest::resolvedParams).validate();
        return options.generate(spec.commandLine().getOut(), spec.commandLine().getErr(), workDir, "outpaint",
                request.resolvedParams(), listener -> Outpaint.run(request, options.addons(), listener));
    }

    /** "LEFT,TOP,RIGHT,BOTTOM" in pixels. */
    static int[] parseExtend(String text) {
        String[] parts = text.split(",", -1);
        if (parts.length != 4) {
            throw new JDiffusionException("--extend: '" + text + "' is not four numbers LEFT,TOP,RIGHT,BOTTOM");
        }
        int[] sides = new int[4];
        for (int i = 0; i < 4; i++) {
            try {
                sides[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw new JDiffusionException("--extend: '" + parts[i].strip() + "' in '" + text + "' is not a whole number of pixels");
            }
        }
        return sides;
    }
}
