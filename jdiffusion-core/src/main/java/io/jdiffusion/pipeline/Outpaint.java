package io.jdiffusion.pipeline;

import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.sampling.StepListener;

import java.util.List;
import java.util.Map;

/**
 * Outpainting: the init image is placed on a larger canvas, the new area is filled with the image's edge
 * colours (stretched outwards and blurred, so a strength below 1 starts from plausible colours), and the
 * new area plus a band reaching {@code overlap} pixels into the original is inpainted ({@link Inpaint}, with
 * either kind of model). When the original is pasted back it fades out across the band, so beyond the
 * band the original pixels are unchanged.
 */
public final class Outpaint {
    /** The default strength with ordinary (4-channel) models, which keep part of the filled colours. */
    public static final double ORDINARY_MODEL_STRENGTH = 0.8;

    private Outpaint() {
    }

    /** Loads the request's model and runs it; returns one image per batch entry, in order. */
    public static List<GeneratedImage> run(OutpaintRequest request, StepListener listener) {
        return run(request, ModelAddons.NONE, listener);
    }

    /** Loads the request's model, puts the add-ons on it (another VAE, LoRAs, hypernetworks) and runs it. */
    public static List<GeneratedImage> run(OutpaintRequest request, ModelAddons addons, StepListener listener) {
        request.validate();
        return run(Generation.load(request.params(), addons), request, listener);
    }

    /** Runs the request on an already loaded model; the listener sees every step and may stop the run. */
    public static List<GeneratedImage> run(LoadedModel model, OutpaintRequest request, StepListener listener) {
        request.validate();
        Img2Img.requireKnownUNet(model);
        Txt2ImgRequest params = request.resolvedParams();
        double strength = request.strength() != null ? request.strength()
                : model.unetInChannels() != model.latentChannels() ? 1.0 : ORDINARY_MODEL_STRENGTH;
        Img2ImgRequest.checkStrength(strength, params.steps());

        int[] e = request.extension();
        RgbImage image = request.initImage();
        int w = params.width(), h = params.height();
        int x0 = e[0], y0 = e[1], x1 = x0 + image.width(), y1 = y0 + image.height();
        RgbImage canvas = fill(image, w, h, x0, y0);

        // how far each canvas pixel lies inside the original, measured from the extended edges only
        byte[] mask = new byte[w * h];
        float[] alpha = new float[w * h];
        int overlap = request.overlap();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = y * w + x;
                if (x < x0 || x >= x1 || y < y0 || y >= y1) {
                    mask[i] = (byte) 255;
                    alpha[i] = 1f;
                    continue;
                }
                int depth = Integer.MAX_VALUE;
                if (e[0] > 0) depth = Math.min(depth, x - x0);
                if (e[2] > 0) depth = Math.min(depth, x1 - 1 - x);
                if (e[1] > 0) depth = Math.min(depth, y - y0);
                if (e[3] > 0) depth = Math.min(depth, y1 - 1 - y);
                if (depth < overlap) {
                    mask[i] = (byte) 255;
                    alpha[i] = 1f - (float) depth / overlap;
                }
            }
        }
        Map<String, String> extra = Img2Img.parameters(strength);
        return Inpaint.run(model, params, canvas, mask, request.overlay() ? alpha : null, strength, MaskedContent.ORIGINAL,
                extra, listener);
    }

    /**
     * The canvas: the image at (x0, y0); every new pixel first takes the colour of the nearest edge pixel,
     * then the new area is box-blurred (three passes, radius a quarter of the canvas's smaller side, edges
     * clamped) so the stretched edge streaks melt into soft colour.
     */
    static RgbImage fill(RgbImage image, int w, int h, int x0, int y0) {
        byte[] rgb = new byte[w * h * 3];
        boolean[] known = new boolean[w * h];
        for (int y = 0; y < h; y++) {
            int sy = Math.clamp(y - y0, 0, image.height() - 1);
            for (int x = 0; x < w; x++) {
                int sx = Math.clamp(x - x0, 0, image.width() - 1);
                known[y * w + x] = sx == x - x0 && sy == y - y0;
                System.arraycopy(image.rgb(), (sy * image.width() + sx) * 3, rgb, (y * w + x) * 3, 3);
            }
        }
        float[] soft = new float[rgb.length];
        for (int i = 0; i < rgb.length; i++) soft[i] = rgb[i] & 0xff;
        int radius = Math.max(1, Math.min(w, h) / 4);
        for (int pass = 0; pass < 3; pass++) {
            soft = Masks.boxBlur(soft, 3, w, h, radius, true);
            soft = Masks.boxBlur(soft, 3, w, h, radius, false);
        }
        for (int p = 0; p < known.length; p++) {
            if (known[p]) continue;
            for (int c = 0; c < 3; c++) rgb[3 * p + c] = (byte) Math.clamp(Math.round(soft[3 * p + c]), 0, 255);
        }
        return new RgbImage(w, h, rgb);
    }
}
