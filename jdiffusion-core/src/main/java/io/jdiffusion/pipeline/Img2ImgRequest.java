package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;

/**
 * One image-to-image job: a txt2img job plus the picture to start from and how far to move away from it.
 *
 * @param params     the generation parameters; {@code width} and {@code height} 0 mean "the init image's",
 *                   rounded down to multiples of 8 (one of them 0: it follows the init image's aspect ratio)
 * @param initImage  the picture to start from, at any size; brought to the output size by {@code resizeMode}
 * @param strength   the denoising strength in (0, 1]: 1 repaints from pure noise, small values stay close
 * @param resizeMode how the init image reaches a different output size
 */
public record Img2ImgRequest(Txt2ImgRequest params, RgbImage initImage, double strength, ResizeMode resizeMode) {

    /** The parameters with the output size resolved against the init image. */
    public Txt2ImgRequest resolvedParams() {
        int[] size = outputSize(params.width(), params.height(), initImage, "--init-image");
        return params.withSize(size[0], size[1]);
    }

    /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value. */
    public Img2ImgRequest validate() {
        if (initImage == null) throw new JDiffusionException("--init-image: no init image given");
        if (resizeMode == null) throw new JDiffusionException("--resize-mode: no resize mode given");
        checkStrength(strength, params.steps());
        resolvedParams().validate();
        return this;
    }

    /**
     * Strength in (0, 1], and enough of it that at least one of the steps runs (diffusers keeps the last
     * ⌊steps·strength⌋ steps).
     */
    static void checkStrength(double strength, int steps) {
        if (!(strength > 0 && strength <= 1)) {
            throw new JDiffusionException("--strength: " + strength + " is outside (0, 1]");
        }
        if ((int) (steps * strength) < 1) {
            throw new JDiffusionException("--strength: " + strength + " with " + steps
                    + " steps leaves no step to run (use at least " + Math.ceil(1000.0 / steps) / 1000 + " or more steps)");
        }
    }

    /**
     * The output size for a requested width × height where 0 means "from the image": the image's own size
     * rounded down to multiples of 8 (as diffusers does), or, with one side given, the other side from the
     * image's aspect ratio.
     */
    static int[] outputSize(int width, int height, RgbImage image, String what) {
        int w = width, h = height;
        if (w == 0 && h == 0) {
            w = image.width() - image.width() % 8;
            h = image.height() - image.height() % 8;
            if (w < Txt2ImgRequest.MIN_SIZE || h < Txt2ImgRequest.MIN_SIZE) {
                throw new JDiffusionException(what + ": the image is " + image.sizeString() + ", smaller than "
                        + Txt2ImgRequest.MIN_SIZE + "x" + Txt2ImgRequest.MIN_SIZE + " (give --width and --height to scale it up)");
            }
        } else if (w == 0) {
            w = Math.max(Txt2ImgRequest.MIN_SIZE, (int) Math.round((double) h * image.width() / image.height()) / 8 * 8);
        } else if (h == 0) {
            h = Math.max(Txt2ImgRequest.MIN_SIZE, (int) Math.round((double) w * image.height() / image.width()) / 8 * 8);
        }
        return new int[]{w, h};
    }
}
