package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;

/**
 * One job for the SD x4 upscaler: a picture made larger by the model's VAE factor, its detail drawn anew under a
 * prompt. The output size is not asked for: it is the picture's size (rounded down to a multiple of the VAE
 * factor, as diffusers' image processor does) times that factor, known once the model is loaded.
 *
 * @param params     prompts, sampler, steps, guidance, seed, batch size, ...; its width and height are ignored
 * @param image      the low-resolution picture
 * @param noiseLevel how much noise the low-resolution picture gets before the UNet sees it (a timestep of the
 *                   model's low-resolution schedule): more lets the model invent more
 */
public record UpscaleRequest(Txt2ImgRequest params, RgbImage image, int noiseLevel) {

    /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value. */
    public UpscaleRequest validate() {
        if (image == null) throw new JDiffusionException("--init-image: no image given");
        if (noiseLevel < 0) throw new JDiffusionException("--noise-level: " + noiseLevel + " must be at least 0");
        // every other parameter as for txt2img; the size comes from the image and the model (outputSize)
        params.withSize(Txt2ImgRequest.MIN_SIZE, Txt2ImgRequest.MIN_SIZE).validate();
        return this;
    }

    /** The low-resolution input the UNet sees: the image with each side rounded down to a multiple of {@code factor}. */
    int[] inputSize(int factor) {
        int w = image.width() - image.width() % factor, h = image.height() - image.height() % factor;
        if (w == 0 || h == 0) {
            throw new JDiffusionException("--init-image: the image is " + image.sizeString() + ", smaller than the model's "
                    + factor + "x" + factor + " minimum");
        }
        if (w * factor > Txt2ImgRequest.MAX_SIZE || h * factor > Txt2ImgRequest.MAX_SIZE) {
            throw new JDiffusionException("--init-image: the image is " + image.sizeString() + "; upscaled " + factor + "x it would be "
                    + w * factor + "x" + h * factor + ", over the " + Txt2ImgRequest.MAX_SIZE + " pixel limit per side");
        }
        return new int[]{w, h};
    }

    /** The parameters at the output size, for a VAE that enlarges {@code factor} times. */
    public Txt2ImgRequest resolvedParams(int factor) {
        int[] size = inputSize(factor);
        return params.withSize(size[0] * factor, size[1] * factor);
    }
}
