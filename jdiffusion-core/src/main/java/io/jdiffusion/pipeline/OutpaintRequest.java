package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;

/**
 * One outpainting job: grow the canvas around a picture and paint the new area to match it.
 *
 * @param params    the generation parameters; their width and height are not used (the canvas is the init
 *                  image grown by the extension)
 * @param initImage the picture to grow, kept at its size
 * @param left      pixels to add on the left; each side is rounded up to a multiple of 8, and an init image
 *                  whose side is no multiple of 8 gets the few extra pixels on an extended side
 * @param strength  the denoising strength in (0, 1], or null for the default: 1 with inpainting models, 0.8
 *                  with ordinary ones (so the colours filled into the new area guide them)
 * @param overlap   how far (pixels) the repainted area reaches into the original along the extended edges;
 *                  the original fades out across this band when pasted back
 * @param overlay   paste the original back outside the band; false gives the decoded image as it is
 */
public record OutpaintRequest(Txt2ImgRequest params, RgbImage initImage, int left, int top, int right, int bottom,
                              Double strength, int overlap, boolean overlay) {

    public static final int DEFAULT_OVERLAP = 16;
    public static final int MAX_OVERLAP = 256;

    /** The pixels added on each side, after rounding: [left, top, right, bottom]. */
    public int[] extension() {
        int[] horizontal = round(initImage.width(), left, right);
        int[] vertical = round(initImage.height(), top, bottom);
        return new int[]{horizontal[0], vertical[0], horizontal[1], vertical[1]};
    }

    /** The parameters at the canvas size. */
    public Txt2ImgRequest resolvedParams() {
        int[] e = extension();
        return params.withSize(initImage.width() + e[0] + e[2], initImage.height() + e[1] + e[3]);
    }

    /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value. */
    public OutpaintRequest validate() {
        if (initImage == null) throw new JDiffusionException("--init-image: no init image given");
        for (int v : new int[]{left, top, right, bottom}) {
            if (v < 0) throw new JDiffusionException("--extend: " + v + " is negative (pixels to add on each side: LEFT,TOP,RIGHT,BOTTOM)");
        }
        if (left == 0 && top == 0 && right == 0 && bottom == 0) {
            throw new JDiffusionException("--extend: nothing to add (all four sides are 0)");
        }
        if (overlap < 0 || overlap > MAX_OVERLAP) {
            throw new JDiffusionException("--overlap: " + overlap + " is outside 0.." + MAX_OVERLAP);
        }
        if (strength != null) Img2ImgRequest.checkStrength(strength, params.steps());
        Txt2ImgRequest resolved = resolvedParams();
        if (resolved.width() > Txt2ImgRequest.MAX_SIZE || resolved.height() > Txt2ImgRequest.MAX_SIZE) {
            throw new JDiffusionException("--extend: the canvas would be " + resolved.width() + "x" + resolved.height()
                    + ", larger than " + Txt2ImgRequest.MAX_SIZE + "x" + Txt2ImgRequest.MAX_SIZE);
        }
        if (resolved.width() < Txt2ImgRequest.MIN_SIZE || resolved.height() < Txt2ImgRequest.MIN_SIZE) {
            throw new JDiffusionException("--extend: the canvas would be " + resolved.width() + "x" + resolved.height()
                    + ", smaller than " + Txt2ImgRequest.MIN_SIZE + "x" + Txt2ImgRequest.MIN_SIZE);
        }
        resolved.validate();
        return this;
    }

    /** One axis: both amounts up to multiples of 8, then the side's remainder added where the canvas grows. */
    private static int[] round(int size, int before, int after) {
        int b = ceil8(before), a = ceil8(after);
        int rest = (size + b + a) % 8;
        if (rest != 0) {
            if (a == 0 && b > 0) b += 8 - rest;
            else a += 8 - rest;
        }
        return new int[]{b, a};
    }

    private static int ceil8(int v) {
        return (v + 7) / 8 * 8;
    }
}
