package io.jdiffusion.server;

import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.pipeline.Outpaint;
import io.jdiffusion.pipeline.OutpaintRequest;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;

import java.util.List;

/**
 * What {@code POST /sdapi/v1/img2img} runs: image to image, and inpainting when a mask is given; and
 * what {@code POST /jdiffusion/v1/outpaint} runs. The server reads and checks the request; an
 * implementation adapts it to the core pipelines ({@link CorePipelines} is the real one; tests may
 * put a stand-in here to see what the server decoded).
 */
@FunctionalInterface
public interface Img2ImgPipeline {

    /**
     * One batch. The images come back like {@code Txt2Img.run}'s: one per batch entry, each with its
     * infotext; when the listener stops the run, the images are decoded from the latents as they are.
     */
    List<GeneratedImage> run(LoadedModel model, Job job, StepListener listener);

    /**
     * Checks a job before it is queued, so a bad combination of values is answered at once with the
     * field at fault (an {@link ApiException}); the default checks nothing.
     */
    default void check(Job job) {
    }

    /** One outpainting batch; the default is the core's {@link Outpaint}. */
    default List<GeneratedImage> outpaint(LoadedModel model, OutpaintRequest request, StepListener listener) {
        return Outpaint.run(model, request, listener);
    }

    /**
     * An img2img batch, with A1111's fields.
     *
     * @param generation        prompt, sampler, steps, CFG, seed, output size, batch size, clip skip
     * @param initImage         the image to start from (8-bit RGB, any size: resized to the output size per {@code resizeMode})
     * @param denoisingStrength 0..1: how much of the schedule runs (1 = all of it, the init image only shapes the mask area)
     * @param resizeMode        A1111's: 0 just resize, 1 crop and resize, 2 resize and fill (3, latent upscale, is refused)
     * @param mask              null for plain img2img; else white = repaint (gray levels blend), any size
     * @param maskBlur          Gaussian blur radius of the mask in pixels
     * @param inpaintingFill    A1111's masked content: 0 fill, 1 original, 2 latent noise, 3 latent nothing
     * @param inpaintFullRes    A1111's "only masked": inpaint a crop around the mask at full resolution
     * @param inpaintFullResPadding pixels of context around that crop
     * @param invertMask        repaint where the mask is black instead
     * @param overlay           paste the original back outside the (blurred) mask, as A1111 always does;
     *                          false (our {@code jdiffusion_overlay}) returns the decoded image as it is
     */
    record Job(
            Txt2ImgRequest generation,
            Png.Image initImage,
            double denoisingStrength,
            int resizeMode,
            Png.Image mask,
            int maskBlur,
            int inpaintingFill,
            boolean inpaintFullRes,
            int inpaintFullResPadding,
            boolean invertMask,
            boolean overlay) {
    }
}
