package io.jdiffusion.server;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.pipeline.HiresFix;
import io.jdiffusion.pipeline.Txt2ImgRequest;

/**
 * txt2img's hires-fix fields, as A1111 names them: {@code enable_hr}, {@code hr_scale} (default 2),
 * {@code hr_second_pass_steps} (0 = as {@code steps}), {@code denoising_strength} (default 0.7 here, A1111's
 * UI default) and {@code hr_upscaler} ("Latent" or "Lanczos"). A1111's other upscalers (ESRGAN and friends) and
 * an explicit target size ({@code hr_resize_x}/{@code hr_resize_y}) are refused by name.
 */
final class HiresFields {
    private HiresFields() {
    }

    /** The hires fix the request asks for, checked against its base size; null when {@code enable_hr} is not true. */
    static HiresFix parse(RequestFields f, GenerationParams base, long maxPixels) {
        if (!f.bool("enable_hr", false)) return null;
        double scale = f.number("hr_scale", HiresFix.DEFAULT_SCALE, 1, 8);
        int steps = f.integer("hr_second_pass_steps", 0, 0, Txt2ImgRequest.MAX_STEPS);
        double denoise = f.number("denoising_strength", HiresFix.DEFAULT_DENOISE, 0, 1);
        if (denoise == 0) throw ApiException.invalid("denoising_strength", "0 leaves the hires pass nothing to do; send a value in (0, 1]");
        for (String field : new String[]{"hr_resize_x", "hr_resize_y"}) {
            if (f.integer(field, 0, 0, Txt2ImgRequest.MAX_SIZE) != 0) {
                throw ApiException.invalid(field, "a target size is not supported; send 0 and use hr_scale");
            }
        }
        String upscalerName = f.string("hr_upscaler", HiresFix.Upscaler.LATENT.a1111Name);
        HiresFix.Upscaler upscaler;
        try {
            upscaler = HiresFix.Upscaler.parse(upscalerName);
        } catch (JDiffusionException e) {
            throw ApiException.invalid("hr_upscaler", "'" + upscalerName + "' is not one of Latent, Lanczos");
        }
        HiresFix hires = new HiresFix(scale, steps, denoise, upscaler);
        int width = hires.targetWidth(base.width()), height = hires.targetHeight(base.height());
        if ((long) width * height > maxPixels) {
            throw ApiException.invalid("hr_scale", Double.toString(scale) + " makes " + width + "x" + height
                    + ", larger than this server's limit of " + maxPixels + " pixels");
        }
        return hires;
    }
}
