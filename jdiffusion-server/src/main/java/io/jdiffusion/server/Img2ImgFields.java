package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.Txt2ImgRequest;

/**
 * The fields img2img adds to txt2img's: the init image, the strength, and the inpainting mask with
 * its options, all decoded and checked before the job is queued.
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
        boolean includeInitImages) {

    static final double DEFAULT_STRENGTH = 0.75; // A1111's defaults
    static final int DEFAULT_MASK_BLUR = 4;
    static final int DEFAULT_FULL_RES_PADDING = 32;

    static Img2ImgFields parse(RequestFields f, long maxPixels) {
        JsonNode images = f.raw("init_images");
        if (images == null) throw ApiException.invalid("init_images", "is required: a list with one base64-encoded image");
        if (!images.isArray() || images.isEmpty()) {
            throw ApiException.invalid("init_images", "must be a non-empty list of base64-encoded images");
        }
        // A1111 cycles several init images over the batch; one image serves every batch entry here
        JsonNode first = images.get(0);
        if (!first.isTextual()) throw ApiException.invalid("init_images[0]", "must be a base64-encoded image");
        Png.Image init = ImageData.rgb("init_images[0]", ImageData.base64("init_images[0]", first.textValue()), maxPixels);

        double strength = f.number("denoising_strength", DEFAULT_STRENGTH, 0, 1);
        int resizeMode = f.integer("resize_mode", 0, 0, 3);
        String maskText = f.string("mask", null);
        Png.Image mask = maskText == null || maskText.isBlank() ? null
                : ImageData.rgb("mask", ImageData.base64("mask", maskText), maxPixels);
        int maskBlur = f.integer("mask_blur", DEFAULT_MASK_BLUR, 0, 256);
        int fill = f.integer("inpainting_fill", 0, 0, 3);
        boolean fullRes = f.bool("inpaint_full_res", true);
        int padding = f.integer("inpaint_full_res_padding", DEFAULT_FULL_RES_PADDING, 0, 4096);
        int invert = f.integer("inpainting_mask_invert", 0, 0, 1);
        boolean include = f.bool("include_init_images", false);
        return new Img2ImgFields(init, strength, resizeMode, mask, maskBlur, fill, fullRes, padding, invert == 1, include);
    }

    Img2ImgPipeline.Job job(Txt2ImgRequest generation) {
        return new Img2ImgPipeline.Job(generation, initImage, denoisingStrength, resizeMode, mask, maskBlur,
                inpaintingFill, inpaintFullRes, inpaintFullResPadding, invertMask);
    }
}
