package io.jdiffusion.server;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Img2Img;
import io.jdiffusion.pipeline.Img2ImgRequest;
import io.jdiffusion.pipeline.Inpaint;
import io.jdiffusion.pipeline.InpaintRequest;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.pipeline.MaskedContent;
import io.jdiffusion.pipeline.ResizeMode;
import io.jdiffusion.pipeline.RgbImage;
import io.jdiffusion.sampling.StepListener;

import java.util.List;
import java.util.Map;

/**
 * {@link Img2ImgPipeline} over the core's {@link Img2Img} and {@link Inpaint}: the same calls the CLI's
 * {@code img2img} and {@code inpaint} commands make, so the same parameters give the same image and
 * infotext.
 * A1111's {@code inpainting_fill} is the core's {@link MaskedContent} (same numbers) and
 * {@code inpaint_full_res} its "only masked" inpainting, with {@code inpaint_full_res_padding}.
 */
final class CorePipelines implements Img2ImgPipeline {
    static final CorePipelines INSTANCE = new CorePipelines();

    private CorePipelines() {
    }

    @Override
    public List<GeneratedImage> run(LoadedModel model, Job job, StepListener listener) {
        return job.mask() == null ? Img2Img.run(model, img2img(job), listener) : Inpaint.run(model, inpaint(job), listener);
    }

    @Override
    public void check(Job job) {
        try {
            if (job.mask() == null) img2img(job).validate();
            else inpaint(job).validate();
        } catch (JDiffusionException e) {
            throw CoreErrors.toApi(e);
        }
    }

    static Img2ImgRequest img2img(Job job) {
        return new Img2ImgRequest(job.generation(), rgb(job.initImage()), job.denoisingStrength(), resizeMode(job.resizeMode()));
    }

    static InpaintRequest inpaint(Job job) {
        RgbImage init = rgb(job.initImage());
        RgbImage mask = nearest(rgb(job.mask()), init.width(), init.height());
        return new InpaintRequest(job.generation(), init, mask, job.denoisingStrength(), resizeMode(job.resizeMode()),
                job.invertMask(), job.maskBlur(), job.overlay(), MaskedContent.ofA1111(job.inpaintingFill()),
                job.inpaintFullRes(), job.inpaintFullResPadding());
    }

    /** A1111's resize_mode numbers (3, latent upscale, is refused when the request is read). */
    static ResizeMode resizeMode(int a1111) {
        return switch (a1111) {
            case 0 -> ResizeMode.RESIZE;
            case 1 -> ResizeMode.CROP;
            case 2 -> ResizeMode.FILL;
            default -> throw ApiException.invalid("resize_mode", a1111 + " is not one of 0 (just resize), 1 (crop and resize),"
                    + " 2 (resize and fill)");
        };
    }

    static RgbImage rgb(Png.Image image) {
        return new RgbImage(image.width(), image.height(), image.rgb());
    }

    /**
     * A mask drawn at another size than the init image is stretched over it (nearest pixel, so a
     * black-and-white mask stays black and white); A1111 stretches both to the output size.
     */
    static RgbImage nearest(RgbImage mask, int width, int height) {
        if (mask.width() == width && mask.height() == height) return mask;
        byte[] out = new byte[width * height * 3];
        for (int y = 0; y < height; y++) {
            int sy = (int) ((y + 0.5) * mask.height() / height);
            for (int x = 0; x < width; x++) {
                int sx = (int) ((x + 0.5) * mask.width() / width);
                System.arraycopy(mask.rgb(), (sy * mask.width() + sx) * 3, out, (y * width + x) * 3, 3);
            }
        }
        return new RgbImage(width, height, out);
    }

    /** The core's errors name CLI flags; the API names its own fields. */
    static final class CoreErrors {
        private static final Map<String, String> FIELDS = Map.ofEntries(
                Map.entry("--strength", "denoising_strength"),
                Map.entry("--init-image", "init_images[0]"),
                Map.entry("--mask", "mask"),
                Map.entry("--mask-blur", "mask_blur"),
                Map.entry("--masked-content", "inpainting_fill"),
                Map.entry("--only-masked-padding", "inpaint_full_res_padding"),
                Map.entry("--resize-mode", "resize_mode"),
                Map.entry("--width", "width"),
                Map.entry("--height", "height"),
                Map.entry("--steps", "steps"),
                Map.entry("--cfg-scale", "cfg_scale"),
                Map.entry("--sampler", "sampler_name"),
                Map.entry("--batch-size", "batch_size"),
                Map.entry("--clip-skip", "override_settings.CLIP_stop_at_last_layers"),
                Map.entry("--prompt", "prompt"),
                Map.entry("--negative-prompt", "negative_prompt"),
                Map.entry("--extend", "left, top, right, bottom"),
                Map.entry("--overlap", "overlap"),
                Map.entry("--hires-scale", "hr_scale"),
                Map.entry("--hires-steps", "hr_second_pass_steps"),
                Map.entry("--hires-denoise", "denoising_strength"),
                Map.entry("--hires-upscaler", "hr_upscaler"));

        private CoreErrors() {
        }

        /** A 422 naming the request field the core's message is about (the message with its flag renamed). */
        static ApiException toApi(JDiffusionException e) {
            String message = e.getMessage() == null ? "invalid request" : e.getMessage();
            int colon = message.indexOf(": ");
            if (message.startsWith("--") && colon > 0) {
                String field = FIELDS.get(message.substring(0, colon));
                if (field != null) return ApiException.invalid(field, message.substring(colon + 2));
            }
            return new ApiException(ApiException.UNPROCESSABLE, null, message);
        }
    }
}
