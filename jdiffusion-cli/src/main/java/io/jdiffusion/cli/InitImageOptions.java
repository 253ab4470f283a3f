package io.jdiffusion.cli;

import io.jdiffusion.pipeline.ResizeMode;
import io.jdiffusion.pipeline.RgbImage;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The flags of the commands that start from a picture: the picture, the output size and how to reach it. */
final class InitImageOptions {

    @Option(names = "--init-image", required = true, paramLabel = "IMAGE",
            description = "The picture to start from (PNG, JPEG, BMP or GIF).")
    Path initImage;

    @Option(names = "--width", paramLabel = "W",
            description = "Output width, a multiple of 8 in 8..4096 (default: the init image's, rounded down to a multiple of 8; "
                    + "with only --height, from the init image's aspect ratio).")
    Integer width;

    @Option(names = "--height", paramLabel = "H",
            description = "Output height, a multiple of 8 in 8..4096 (default: as for --width).")
    Integer height;

    @Option(names = "--resize-mode", paramLabel = "MODE", defaultValue = "resize",
            description = "How the init image reaches another size: resize (stretch), crop (cover, cut the overhang) "
                    + "or fill (fit, stretch the edges into the bands) (default: ${DEFAULT-VALUE}).")
    String resizeMode;

    RgbImage read() {
        return RgbImage.read(initImage, "--init-image");
    }

    ResizeMode mode() {
        return ResizeMode.parse(resizeMode);
    }

    /** 0 = from the init image. */
    int widthOrZero() {
        return width == null ? 0 : width;
    }

    int heightOrZero() {
        return height == null ? 0 : height;
    }
}
