package io.jdiffusion.server;

import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.OutpaintRequest;
import io.jdiffusion.pipeline.Txt2ImgRequest;

/**
 * The fields of {@code POST /jdiffusion/v1/outpaint} beyond txt2img's (A1111's API has no outpainting
 * route; its outpainting lives in scripts): the picture in {@code init_images[0]}, the pixels to add on
 * each side, how far the repainted band reaches into the picture, the strength (absent: the core's
 * default for the model) and whether to paste the original back.
 */
record OutpaintFields(Png.Image initImage, int left, int top, int right, int bottom, int overlap,
                      Double denoisingStrength, boolean overlay) {

    static final int MAX_SIDE = Txt2ImgRequest.MAX_SIZE;

    static OutpaintFields parse(RequestFields f, long maxPixels) {
        Png.Image init = Img2ImgFields.initImage(f, maxPixels);
        int left = f.integer("left", 0, 0, MAX_SIDE);
        int top = f.integer("top", 0, 0, MAX_SIDE);
        int right = f.integer("right", 0, 0, MAX_SIDE);
        int bottom = f.integer("bottom", 0, 0, MAX_SIDE);
        if (left == 0 && top == 0 && right == 0 && bottom == 0) {
            throw ApiException.invalid("left", "nothing to add: left, top, right and bottom are all 0 (pixels to add on each side)");
        }
        int overlap = f.integer("overlap", OutpaintRequest.DEFAULT_OVERLAP, 0, OutpaintRequest.MAX_OVERLAP);
        Double strength = f.has("denoising_strength") ? f.number("denoising_strength", 1, 0, 1) : null;
        boolean overlay = f.bool("jdiffusion_overlay", true);
        return new OutpaintFields(init, left, top, right, bottom, overlap, strength, overlay);
    }

    OutpaintRequest request(Txt2ImgRequest generation) {
        return new OutpaintRequest(generation, CorePipelines.rgb(initImage), left, top, right, bottom, denoisingStrength,
                overlap, overlay);
    }
}
