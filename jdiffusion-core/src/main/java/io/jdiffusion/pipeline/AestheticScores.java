package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;

/**
 * The SDXL refiner's aesthetic-score conditioning: the refiner was trained with each image's aesthetic score
 * (a LAION-style rating, 0..10) among its time ids, so the prompt side asks for a high score and the negative
 * prompt side for a low one. Other models ignore it.
 *
 * @param positive the score the prompt's conditioning asks for
 * @param negative the score the negative prompt's conditioning asks for
 */
public record AestheticScores(double positive, double negative) {
    /** diffusers' StableDiffusionXLImg2ImgPipeline defaults (and A1111's "SDXL high/low aesthetic score"). */
    public static final AestheticScores DEFAULT = new AestheticScores(6.0, 2.5);
    public static final double MAX = 10;

    /** Throws a one-line {@link JDiffusionException} naming the flag of a bad value. */
    public AestheticScores validate() {
        check("--aesthetic-score", positive);
        check("--negative-aesthetic-score", negative);
        return this;
    }

    private static void check(String flag, double value) {
        if (!(value >= 0 && value <= MAX)) throw new JDiffusionException(flag + ": " + value + " is outside 0.." + (int) MAX);
    }
}
