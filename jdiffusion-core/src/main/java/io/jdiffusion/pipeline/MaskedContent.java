package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What the masked area starts from when inpainting with a strength below 1: A1111's "Masked content"
 * ({@code inpainting_fill}, numbered as there). At strength 1 the masked area starts from pure noise
 * whatever this says.
 * <ul>
 *   <li>{@link #FILL} (0): the picture's masked pixels are first replaced by the colours around them,
 *       blurred in from ever smaller radii, and then encoded;</li>
 *   <li>{@link #ORIGINAL} (1): the picture as it is (what diffusers does);</li>
 *   <li>{@link #LATENT_NOISE} (2): the masked latents are replaced by the seed's noise (the same draw
 *       the sampler starts from, as in A1111) before the strength's noise is added;</li>
 *   <li>{@link #LATENT_NOTHING} (3): the masked latents are set to zero.</li>
 * </ul>
 */
public enum MaskedContent {
    FILL("fill"), ORIGINAL("original"), LATENT_NOISE("latent noise"), LATENT_NOTHING("latent nothing");

    private final String label;

    MaskedContent(String label) {
        this.label = label;
    }

    /** A1111's name, as its infotext writes it ("Masked content: latent noise"). */
    public String label() {
        return label;
    }

    /** A1111's number ({@code inpainting_fill}). */
    public int a1111() {
        return ordinal();
    }

    public static MaskedContent ofA1111(int number) {
        if (number < 0 || number >= values().length) {
            throw new JDiffusionException("--masked-content: " + number + " is not one of " + Arrays.stream(values())
                    .map(m -> m.a1111() + " (" + m.label + ")").collect(Collectors.joining(", ")));
        }
        return values()[number];
    }

    /** The command-line spelling: fill, original, latent-noise, latent-nothing. */
    public String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static MaskedContent parse(String text) {
        for (MaskedContent m : values()) {
            if (m.id().equalsIgnoreCase(text.strip())) return m;
        }
        throw new JDiffusionException("--masked-content: '" + text + "' is not one of "
                + Arrays.stream(values()).map(MaskedContent::id).collect(Collectors.joining(", ")));
    }
}
