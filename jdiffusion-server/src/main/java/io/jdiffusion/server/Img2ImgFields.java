package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.InpaintRequest;
import io.jdiffusion.pipeline.MaskedContent;
import io.jdiffusion.pipeline.Txt2ImgRequest;

/**
 * The fields img2img adds to txt2img's: the init image, the strength, and the inpainting mask with
 * its options, all decoded and checked before the job is queued.
 *
 * <p>A1111's defaults throughout ({@code inpainting_fill} 0, "fill", as its API has it, though its page
 * starts at 1, "original"); ours, {@code jdiffusion_overlay} (default true, as A1111 always does it), may
 * turn off pasting the original back outside the mask.
 */
record Img2ImgFields(
        Png.Image initImage,
        double denoisingStrength,
        int resizeMode,
        Png.Image mask,
        int maskBlur,
        int inpaintingFill,
        boolean inpaintFullRes,
        int inpaintFullResPadding,
        boolean invertMask,
        boolean overlay,
        boolean includeInitImages) {

    static final double DEFAULT_STRENGTH = 0.75; // A1111's defaults
    static final int DEFAULT_MASK_BLUR = 4;
    static final int DEFAULT_FULL_RES_PADDING = InpaintRequest.DEFAULT_ONLY_MASKED_PADDING;
    static final int LATENT_UPSCALE = 3;          // A1111's resize_mode "Just resize (latent upscale)"

    static Img2ImgFields parse(RequestFields f, long maxPixels) {
        Png.Image init = initImage(f, maxPixels);
        double strength = f.number("denoising_strength", DEFAULT_STRENGTH, 0, 1);
        int resizeMode = f.integer("resize_mode", 0, 0, 3);
        if (resizeMode == LATENT_UPSCALE) {
            throw ApiException.invalid("resize_mode", "3 (latent upscale) is not supported; use 0 (just resize),"
                    + " 1 (crop and resize) or 2 (resize and fill)");
        }
        String maskText = f.string("mask", null);
        Png.Image mask = maskText == null || maskText.isBlank() ? null
                : ImageData.rgb("mask", ImageData.base64("mask", maskText), maxPixels);
        int maskBlur = f.integer("mask_blur", DEFAULT_MASK_BLUR, 0, 256);
        int fill = f.integer("inpainting_fill", MaskedContent.FILL.a1111(), 0, MaskedContent.values().length - 1);
        boolean fullRes = f.bool("inpaint_full_res", false);
        int padding = f.integer("inpaint_full_res_padding", DEFAULT_FULL_RES_PADDING, 0,
                InpaintRequest.MAX_ONLY_MASKED_PADDING);
        int invert = f.integer("inpainting_mask_invert", 0, 0, 1);
        boolean overlay = f.bool("jdiffusion_overlay", true);
        boolean include = f.bool("include_init_images", false);
        return new Img2ImgFields(init, strength, resizeMode, mask, maskBlur, fill, fullRes, padding, invert == 1,
                overlay, include);
    }

    /** {@code init_images[0]}: A1111 cycles several init images over the batch; one serves every batch entry here. */
    static Png.Image initImage(RequestFields f, long maxPixels) {
        JsonNode images = f.raw("init_images");
        if (images == null) throw ApiException.invalid("init_images", "is required: a list with one base64-encoded image");
        if (!images.isArray() || images.isEmpty()) {
            throw ApiException.invalid("init_images", "must be a non-empty list of base64-encoded images");
        }
        JsonNode first = images.get(0);
        if (!first.isTextual()) throw ApiException.invalid("init_images[0]", "must be a base64-encoded image");
        return ImageData.rgb("init_images[0]", ImageData.base64("init_images[0]", first.textValue()), maxPixels);
    }

    Img2ImgPipeline.Job job(Txt2ImgRequest generation) {
        return new Img2ImgPipeline.Job(generation, initImage, denoisingStrength, resizeMode, mask, maskBlur,
                inpaintingFill, inpaintFullRes, inpaintFullResPadding, invertMask, overlay);
    }
}
