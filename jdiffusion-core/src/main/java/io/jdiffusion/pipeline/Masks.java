package io.jdiffusion.pipeline;

import io.jdiffusion.tensor.Tensor;

/** One-channel 8-bit masks (255 = repaint): blurring, and pasting the original back through them. */
final class Masks {
    private Masks() {
    }

    static byte[] invert(byte[] mask) {
        byte[] out = new byte[mask.length];
        for (int i = 0; i < out.length; i++) out[i] = (byte) (255 - (mask[i] & 0xff));
        return out;
    }

    /**
     * [1, 1, H, W] of 0 and 1 as diffusers' mask processor makes it: each value / 255 in float32, then
     * below 0.5 → 0, else 1.
     */
    static Tensor binary(byte[] mask, int width, int height) {
        float[] out = new float[mask.length];
        for (int i = 0; i < out.length; i++) out[i] = (mask[i] & 0xff) / 255f < 0.5f ? 0f : 1f;
        return new Tensor(out, 1, 1, height, width);
    }

    /**
     * A Gaussian blur as A1111 applies its "Mask blur" (OpenCV's GaussianBlur): standard deviation
     * {@code sigma} pixels, kernel 2·⌊2.5·sigma + 0.5⌋ + 1 wide, rows then columns, edges mirrored
     * without repeating the edge pixel; rounded to 8 bits.
     */
    static byte[] blur(byte[] mask, int width, int height, int sigma) {
        if (sigma <= 0) return mask.clone();
        int radius = (int) (2.5 * sigma + 0.5);
        double[] kernel = new double[2 * radius + 1];
        double total = 0;
        for (int i = -radius; i <= radius; i++) {
            kernel[i + radius] = Math.exp(-(double) i * i / (2.0 * sigma * sigma));
            total += kernel[i + radius];
        }
        for (int i = 0; i < kernel.length; i++) kernel[i] /= total;
        double[] rows = new double[mask.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                double s = 0;
                for (int k = -radius; k <= radius; k++) s += kernel[k + radius] * (mask[y * width + mirror(x + k, width)] & 0xff);
                rows[y * width + x] = s;
            }
        }
        byte[] out = new byte[mask.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                double s = 0;
                for (int k = -radius; k <= radius; k++) s += kernel[k + radius] * rows[mirror(y + k, height) * width + x];
                out[y * width + x] = (byte) Math.clamp(Math.round(s), 0, 255);
            }
        }
        return out;
    }

    /** Index i reflected into [0, n) as OpenCV's BORDER_REFLECT_101 does (…2 1 | 0 1 2 … n-1 | n-2 …). */
    private static int mirror(int i, int n) {
        if (n == 1) return 0;
        while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
        return i;
    }

    /**
     * How much of the generated image shows at each pixel when the original is pasted back: A1111 doubles
     * the blurred mask and clips it, so everything the sharp mask repaints (≥ 128) shows fully and the
     * feathering lies outside it.
     */
    static float[] overlayAlpha(byte[] blurredMask) {
        float[] a = new float[blurredMask.length];
        for (int i = 0; i < a.length; i++) a[i] = Math.min(255, 2 * (blurredMask[i] & 0xff)) / 255f;
        return a;
    }

    /** generated·alpha + original·(1 − alpha), per pixel, rounded; alpha 0 keeps the original exactly. */
    static byte[] overlay(byte[] original, byte[] generated, float[] alpha) {
        byte[] out = new byte[generated.length];
        for (int p = 0; p < alpha.length; p++) {
            float a = alpha[p];
            for (int c = 0; c < 3; c++) {
                int i = 3 * p + c;
                int o = original[i] & 0xff, g = generated[i] & 0xff;
                out[i] = (byte) (a == 0f ? o : a == 1f ? g : Math.round(o + (g - o) * a));
            }
        }
        return out;
    }

    /**
     * A1111's "fill" masked content: the masked pixels take the colours around them. The picture with the
     * masked part transparent is blurred at radii 256, 64, 16, 4 and 2 pixels (Gaussian, approximated by
     * three box blurs as Pillow does), and the blurs are laid over one another from the widest, some more
     * than once, then the picture itself on top, so each masked pixel gets the colour of its nearest
     * surroundings and unmasked pixels stay exactly as they were.
     *
     * @param mask one byte per pixel of the picture, 255 = masked (gray = partly)
     */
    static RgbImage fill(RgbImage image, byte[] mask) {
        int w = image.width(), h = image.height(), n = w * h;
        // premultiplied RGBA: colour × alpha, alpha = 1 where the picture is kept, 0 where masked
        float[] kept = new float[n * 4];
        for (int p = 0; p < n; p++) {
            float a = 1f - (mask[p] & 0xff) / 255f;
            for (int c = 0; c < 3; c++) kept[4 * p + c] = (image.rgb()[3 * p + c] & 0xff) * a;
            kept[4 * p + 3] = a;
        }
        float[] out = new float[n * 4]; // starts transparent
        int[][] layers = {{256, 1}, {64, 1}, {16, 2}, {4, 4}, {2, 2}, {0, 1}}; // radius, times laid on (A1111's)
        for (int[] layer : layers) {
            float[] blurred = kept;
            int box = gaussianBoxRadius(layer[0]);
            for (int pass = 0; box > 0 && pass < 3; pass++) {
                blurred = boxBlur(blurred, 4, w, h, box, true);
                blurred = boxBlur(blurred, 4, w, h, box, false);
            }
            for (int t = 0; t < layer[1]; t++) {
                for (int p = 0; p < n; p++) {
                    float keep = 1f - blurred[4 * p + 3]; // "over": what lies below shows through the layer's transparency
                    for (int c = 0; c < 4; c++) out[4 * p + c] = blurred[4 * p + c] + out[4 * p + c] * keep;
                }
            }
        }
        byte[] rgb = new byte[n * 3];
        for (int p = 0; p < n; p++) {
            float a = out[4 * p + 3];
            for (int c = 0; c < 3; c++) {
                rgb[3 * p + c] = a <= 0f ? 0 : (byte) Math.clamp(Math.round(out[4 * p + c] / a), 0, 255);
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /** The box radius whose three passes have about the variance of a Gaussian of standard deviation sigma. */
    private static int gaussianBoxRadius(int sigma) {
        return sigma <= 0 ? 0 : (int) Math.round((Math.sqrt(4.0 * sigma * sigma + 1) - 1) / 2);
    }

    /**
     * Mean over a (2r + 1) window along rows or columns of interleaved pixels of {@code channels} values,
     * coordinates clamped at the edges.
     */
    static float[] boxBlur(float[] src, int channels, int w, int h, int r, boolean alongRows) {
        float[] out = new float[src.length];
        int lines = alongRows ? h : w, length = alongRows ? w : h;
        for (int line = 0; line < lines; line++) {
            for (int c = 0; c < channels; c++) {
                double sum = 0;
                for (int k = -r; k <= r; k++) sum += src[index(line, Math.clamp(k, 0, length - 1), c, channels, w, alongRows)];
                for (int pos = 0; pos < length; pos++) {
                    out[index(line, pos, c, channels, w, alongRows)] = (float) (sum / (2 * r + 1));
                    sum += src[index(line, Math.min(pos + r + 1, length - 1), c, channels, w, alongRows)]
                            - src[index(line, Math.max(pos - r, 0), c, channels, w, alongRows)];
                }
            }
        }
        return out;
    }

    private static int index(int line, int pos, int c, int channels, int w, boolean alongRows) {
        return alongRows ? (line * w + pos) * channels + c : (pos * w + line) * channels + c;
    }
}
