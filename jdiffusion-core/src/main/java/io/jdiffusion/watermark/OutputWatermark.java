package io.jdiffusion.watermark;

import io.jdiffusion.model.ModelFamily;
import io.jdiffusion.tensor.Tensor;

/**
 * The watermark a generation run puts on its images, as the reference implementations do: SD 1.x/2.x
 * outputs get the bytes {@code StableDiffusionV1} on the 8-bit image (the original txt2img script),
 * SDXL outputs the 48-bit diffusers message on the decoded float image before it is rounded to 8 bits
 * (diffusers' SDXL pipelines). Images under {@link DwtDctWatermark#MIN_PIXELS} are left unmarked, since
 * the method cannot take them.
 *
 * <p>Every pipeline (txt2img, img2img, inpaint, outpaint) calls both hooks in one place, the package-private
 * {@code pipeline.Generation.images}; the one that does not apply returns its input:
 * <pre>
 * OutputWatermark mark = OutputWatermark.choose(request.watermark(), family, width, height);
 * byte[][] rgb = LoadedModel.toRgb8(mark.onDecoded(model.decode(latents)));
 * byte[] pixels = mark.onRgb8(rgb[i], width, height);
 * if (mark.message() != null) infotext parameters get INFOTEXT_KEY = mark.message().name()
 * </pre>
 */
public final class OutputWatermark {
    /**
     * The key of the infotext parameter that names the watermark an image carries
     * ({@code Watermark: StableDiffusionV1} or {@code Watermark: SDXL}); absent when it carries none.
     */
    public static final String INFOTEXT_KEY = "Watermark";

    public static final OutputWatermark NONE = new OutputWatermark(null, false);

    private final WatermarkMessage message;
    private final boolean onFloat;

    private OutputWatermark(WatermarkMessage message, boolean onFloat) {
        this.message = message;
        this.onFloat = onFloat;
    }

    /** What to do for a run: nothing when not wanted or the images are too small, else the family's message and path. */
    public static OutputWatermark choose(boolean wanted, ModelFamily family, int width, int height) {
        if (!wanted || !DwtDctWatermark.fits(width, height)) return NONE;
        return family == ModelFamily.SDXL ? new OutputWatermark(WatermarkMessage.SDXL, true)
                : new OutputWatermark(WatermarkMessage.STABLE_DIFFUSION_V1, false);
    }

    /** A one-line note for the user when a wanted watermark is skipped for the image size, else null. */
    public static String skippedNote(boolean wanted, int width, int height) {
        if (!wanted || DwtDctWatermark.fits(width, height)) return null;
        return "no invisible watermark: " + width + "x" + height + " is under the " + DwtDctWatermark.MIN_PIXELS
                + " pixels (256x256) the watermark needs";
    }

    /** The message the images get, or null for none. */
    public WatermarkMessage message() {
        return message;
    }

    /** SDXL: decoded images [N, 3, H, W] in [-1, 1] watermarked on the float path; otherwise the input itself. */
    public Tensor onDecoded(Tensor images) {
        return message != null && onFloat ? DwtDctWatermark.encodeDecoded(images, message) : images;
    }

    /** SD 1.x/2.x: an 8-bit RGB image watermarked on the 8-bit path; otherwise the input itself. */
    public byte[] onRgb8(byte[] rgb, int width, int height) {
        return message != null && !onFloat ? DwtDctWatermark.encodeRgb8(rgb, width, height, message) : rgb;
    }
}
