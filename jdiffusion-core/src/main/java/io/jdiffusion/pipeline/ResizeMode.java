package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How an init image (and its mask) is brought to the requested output size, as A1111's img2img offers:
 * <ul>
 *   <li>{@link #RESIZE}: stretched to the size, ignoring the aspect ratio ("Just resize");</li>
 *   <li>{@link #CROP}: scaled to cover the size, keeping the aspect ratio, centred, the overhang cut off
 *       ("Crop and resize");</li>
 *   <li>{@link #FILL}: scaled to fit inside, centred, the empty bands filled by stretching the image's
 *       edge rows or columns ("Resize and fill").</li>
 * </ul>
 */
public enum ResizeMode {
    RESIZE, CROP, FILL;

    /** The command-line spelling: resize, crop, fill. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static ResizeMode parse(String text) {
        for (ResizeMode m : values()) {
            if (m.id().equalsIgnoreCase(text.strip())) return m;
        }
        throw new JDiffusionException("--resize-mode: '" + text + "' is not one of "
                + Arrays.stream(values()).map(ResizeMode::id).collect(Collectors.joining(", ")));
    }
}
