package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

/**
 * SDXL's micro-conditioning: the size the training image had before it was resized, where it was cropped,
 * and the size the result is meant to have. SDXL learnt these as six extra numbers beside the timestep
 * (diffusers' add_time_ids); asking for a small original size gives the blurrier look of upscaled
 * training images, a non-zero crop a cut-off subject. The defaults, the image's own size and no crop,
 * are what diffusers and A1111 use.
 *
 * <p>The user gives sizes as width, height and the crop as left (x), top (y); the model reads each pair
 * height first: [original height, original width, crop top, crop left, target height, target width].
 */
public record SizeConditioning(int originalWidth, int originalHeight, int cropLeft, int cropTop, int targetWidth, int targetHeight) {

    /** How many numbers the UNet receives: two sizes and a crop, two numbers each. */
    public static final int TIME_IDS = 6;

    /** How many the SDXL refiner's UNet receives: the original size, the crop and an aesthetic score. */
    public static final int REFINER_TIME_IDS = 5;

    /** Largest value accepted for a size or crop offset: far beyond any training image, small enough to be a typo guard. */
    public static final int MAX_VALUE = 16384;

    /** The defaults for an image of this size: original = target = the image's size, no crop. */
    public static SizeConditioning forImage(int width, int height) {
        return new SizeConditioning(width, height, 0, 0, width, height);
    }

    /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value. */
    public SizeConditioning validate() {
        checkSize("--original-size", originalWidth, originalHeight);
        checkSize("--target-size", targetWidth, targetHeight);
        if (cropLeft < 0 || cropTop < 0 || cropLeft > MAX_VALUE || cropTop > MAX_VALUE) {
            throw new JDiffusionException("--crop-top-left: " + cropLeft + "," + cropTop + " must be two numbers in 0.." + MAX_VALUE);
        }
        return this;
    }

    private static void checkSize(String flag, int width, int height) {
        if (width < 1 || height < 1 || width > MAX_VALUE || height > MAX_VALUE) {
            throw new JDiffusionException(flag + ": " + width + "," + height + " must be a width and height in 1.." + MAX_VALUE);
        }
    }

    /** The UNet's time ids for one image, [1, 6], height before width as the model was trained. */
    public Tensor timeIds() {
        return new Tensor(new float[]{originalHeight, originalWidth, cropTop, cropLeft, targetHeight, targetWidth}, 1, TIME_IDS);
    }

    /**
     * The SDXL refiner's time ids for one image, [1, 5]: the original size and the crop as above, then the
     * aesthetic score the image should have (the target size is not among them).
     */
    public Tensor refinerTimeIds(double aestheticScore) {
        return new Tensor(new float[]{originalHeight, originalWidth, cropTop, cropLeft, (float) aestheticScore}, 1, REFINER_TIME_IDS);
    }
}
