package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;

/**
 * One inpainting job: repaint the white part of the mask, keep the rest.
 *
 * @param params     the generation parameters; width and height 0 = from the init image (as {@link Img2ImgRequest})
 * @param initImage  the picture to change
 * @param mask       the same size as the init image; white (luminance ≥ 128 after resizing) = repaint
 * @param strength   the denoising strength in (0, 1]; 1 repaints the masked part from pure noise
 * @param resizeMode how image and mask reach a different output size
 * @param invertMask repaint the black part instead
 * @param maskBlur   Gaussian blur (sigma in pixels, as A1111's "Mask blur") of the mask used to paste the
 *                   original back; 0 = a hard edge
 * @param overlay    paste the original pixels back outside the (blurred) mask; false gives the decoded
 *                   image as it is (what diffusers returns)
 * @param maskedContent what the masked area starts from (A1111's "Masked content"; {@link MaskedContent#ORIGINAL}
 *                   is what diffusers does)
 * @param onlyMasked A1111's "Inpaint area: Only masked": only a crop around the mask is inpainted, at the
 *                   output size, and pasted back into the picture, which keeps its own size (the resize mode
 *                   does not apply)
 * @param onlyMaskedPadding with {@code onlyMasked}, the pixels of context around the mask in the crop
 */
public record InpaintRequest(Txt2ImgRequest params, RgbImage initImage, RgbImage mask, double strength,
                             ResizeMode resizeMode, boolean invertMask, int maskBlur, boolean overlay,
                             MaskedContent maskedContent, boolean onlyMasked, int onlyMaskedPadding) {

    public static final int MAX_MASK_BLUR = 256;
    public static final int DEFAULT_ONLY_MASKED_PADDING = 32; // A1111's
    public static final int MAX_ONLY_MASKED_PADDING = 4096;

    /** The whole picture inpainted, the masked area starting from the picture as it is (diffusers' way). */
    public InpaintRequest(Txt2ImgRequest params, RgbImage initImage, RgbImage mask, double strength,
                          ResizeMode resizeMode, boolean invertMask, int maskBlur, boolean overlay) {
        this(params, initImage, mask, strength, resizeMode, invertMask, maskBlur, overlay, MaskedContent.ORIGINAL,
                false, DEFAULT_ONLY_MASKED_PADDING);
    }

    public Txt2ImgRequest resolvedParams() {
        int[] size = Img2ImgRequest.outputSize(params.width(), params.height(), initImage, "--init-image");
        return params.withSize(size[0], size[1]);
    }

    /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value. */
    public InpaintRequest validate() {
        if (initImage == null) throw new JDiffusionException("--init-image: no init image given");
        if (mask == null) throw new JDiffusionException("--mask: no mask given");
        if (resizeMode == null) throw new JDiffusionException("--resize-mode: no resize mode given");
        if (mask.width() != initImage.width() || mask.height() != initImage.height()) {
            throw new JDiffusionException("--mask: the mask is " + mask.sizeString() + " but the init image is "
                    + initImage.sizeString() + " (they must be the same size)");
        }
        if (maskBlur < 0 || maskBlur > MAX_MASK_BLUR) {
            throw new JDiffusionException("--mask-blur: " + maskBlur + " is outside 0.." + MAX_MASK_BLUR);
        }
        if (maskedContent == null) throw new JDiffusionException("--masked-content: no masked content given");
        if (onlyMaskedPadding < 0 || onlyMaskedPadding > MAX_ONLY_MASKED_PADDING) {
            throw new JDiffusionException("--only-masked-padding: " + onlyMaskedPadding + " is outside 0.."
                    + MAX_ONLY_MASKED_PADDING);
        }
        if (onlyMasked && MaskedArea.isBlank(invertMask ? Masks.invert(mask.luminance()) : mask.luminance())) {
            throw new JDiffusionException("--mask: nothing is masked, so there is no area to inpaint on its own");
        }
        Img2ImgRequest.checkStrength(strength, params.steps());
        resolvedParams().validate();
        return this;
    }
}
