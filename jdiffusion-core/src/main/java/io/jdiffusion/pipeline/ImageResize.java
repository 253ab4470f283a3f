package io.jdiffusion.pipeline;

/**
 * Resampling of 8-bit images with a Lanczos-3 filter, computed as Pillow's {@code Image.resize(size,
 * LANCZOS, box)} computes it (the filter both diffusers' image processor and A1111 use): separable,
 * horizontal pass first, the filter widened by the scale when shrinking, weights normalised per output
 * pixel and turned into 22-bit fixed point, each pass rounded back to 8 bits (also with Pillow's BICUBIC
 * filter, which the DPT depth estimator's processor uses). Plus A1111's three ways of
 * reaching a target size ({@link ResizeMode}).
 */
final class ImageResize {
    private static final double SUPPORT = 3.0;
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private ImageResize() {
    }

    /** The image brought to width × height the way {@code mode} says; the same image when it already has that size. */
    static RgbImage resize(RgbImage image, int width, int height, ResizeMode mode) {
        if (image.width() == width && image.height() == height) return image;
        return new RgbImage(width, height, resize(image.rgb(), 3, image.width(), image.height(), width, height, mode));
    }

    /** As {@link #resize(RgbImage, int, int, ResizeMode)} for interleaved 8-bit pixels of {@code channels} channels. */
    static byte[] resize(byte[] src, int channels, int w, int h, int width, int height, ResizeMode mode) {
        if (w == width && h == height) return src.clone();
        return switch (mode) {
            case RESIZE -> lanczos(src, channels, w, h, 0, 0, w, h, width, height);
            case CROP -> {
                // scaled to cover: the side that fits exactly follows the target's aspect ratio
                boolean fitWidth = (double) width / height > (double) w / h;
                int sw = fitWidth ? width : w * height / h;
                int sh = fitWidth ? h * width / w : height;
                byte[] scaled = lanczos(src, channels, w, h, 0, 0, w, h, sw, sh);
                yield paste(scaled, channels, sw, sh, new byte[width * height * channels], width, height,
                        width / 2 - sw / 2, height / 2 - sh / 2);
            }
            case FILL -> fill(src, channels, w, h, width, height);
        };
    }

    /** Scaled to fit inside, centred; the bands beside it filled from its first and last rows (or columns). */
    private static byte[] fill(byte[] src, int channels, int w, int h, int width, int height) {
        double ratio = (double) width / height, srcRatio = (double) w / h;
        int sw = ratio < srcRatio ? width : w * height / h;
        int sh = ratio >= srcRatio ? height : h * width / w;
        byte[] scaled = lanczos(src, channels, w, h, 0, 0, w, h, sw, sh);
        byte[] out = new byte[width * height * channels];
        int left = width / 2 - sw / 2, top = height / 2 - sh / 2;
        paste(scaled, channels, sw, sh, out, width, height, left, top);
        if (ratio < srcRatio && top > 0) {
            // bands above and below: the edge row stretched over the band (a zero-height source box, as A1111 does)
            byte[] above = lanczos(scaled, channels, sw, sh, 0, 0, sw, 0, width, top);
            byte[] below = lanczos(scaled, channels, sw, sh, 0, sh, sw, sh, width, top);
            paste(above, channels, width, top, out, width, height, 0, 0);
            paste(below, channels, width, top, out, width, height, 0, top + sh);
        } else if (ratio > srcRatio && left > 0) {
            byte[] before = lanczos(scaled, channels, sw, sh, 0, 0, 0, sh, left, height);
            byte[] after = lanczos(scaled, channels, sw, sh, sw, 0, sw, sh, left, height);
            paste(before, channels, left, height, out, width, height, 0, 0);
            paste(after, channels, left, height, out, width, height, left + sw, 0);
        }
        return out;
    }

    /** Copies src (sw × sh) into dst (dw × dh) with its top-left corner at (x, y), clipped to dst. */
    private static byte[] paste(byte[] src, int channels, int sw, int sh, byte[] dst, int dw, int dh, int x, int y) {
        for (int row = Math.max(0, -y); row < sh && row + y < dh; row++) {
            int from = Math.max(0, -x), to = Math.min(sw, dw - x);
            if (to <= from) continue;
            System.arraycopy(src, (row * sw + from) * channels, dst, ((row + y) * dw + x + from) * channels,
                    (to - from) * channels);
        }
        return dst;
    }

    /**
     * The source box [x0, x1) × [y0, y1) of a w × h image resampled to outW × outH. A box of zero width or
     * height samples the edge it lies on.
     */
    static byte[] lanczos(byte[] src, int channels, int w, int h, double x0, double y0, double x1, double y1,
                          int outW, int outH) {
        return resample(Filter.LANCZOS, src, channels, w, h, x0, y0, x1, y1, outW, outH);
    }

    /** The whole w × h image resampled to outW × outH with Pillow's BICUBIC filter (Keys' cubic, a = −0.5). */
    static byte[] bicubic(byte[] src, int channels, int w, int h, int outW, int outH) {
        return resample(Filter.BICUBIC, src, channels, w, h, 0, 0, w, h, outW, outH);
    }

    /** Pillow's separable resampling of the box [x0, x1) × [y0, y1) with one of its filters. */
    private static byte[] resample(Filter filter, byte[] src, int channels, int w, int h, double x0, double y0, double x1,
                                   double y1, int outW, int outH) {
        boolean horizontal = outW != w || x0 != 0 || x1 != outW;
        boolean vertical = outH != h || y0 != 0 || y1 != outH;
        Coefficients cx = new Coefficients(filter, w, x0, x1, outW);
        Coefficients cy = new Coefficients(filter, h, y0, y1, outH);
        byte[] img = src;
        int rows = h, firstRow = 0;
        if (horizontal) {
            // only the rows the vertical pass will read
            firstRow = cy.bounds[0];
            int lastRow = cy.bounds[2 * (outH - 1)] + cy.bounds[2 * (outH - 1) + 1];
            rows = lastRow - firstRow;
            byte[] tmp = new byte[outW * rows * channels];
            for (int y = 0; y < rows; y++) {
                int in = (y + firstRow) * w * channels, out = y * outW * channels;
                for (int x = 0; x < outW; x++) {
                    int min = cx.bounds[2 * x], n = cx.bounds[2 * x + 1], k = x * cx.size;
                    for (int c = 0; c < channels; c++) {
                        int sum = 1 << (PRECISION_BITS - 1);
                        for (int i = 0; i < n; i++) sum += (img[in + (min + i) * channels + c] & 0xff) * cx.fixed[k + i];
                        tmp[out + x * channels + c] = clip8(sum);
                    }
                }
            }
            img = tmp;
            w = outW;
        }
        if (!vertical) return img == src ? src.clone() : img;
        byte[] out = new byte[outW * outH * channels];
        for (int y = 0; y < outH; y++) {
            int min = cy.bounds[2 * y] - firstRow, n = cy.bounds[2 * y + 1], k = y * cy.size;
            for (int x = 0; x < w * channels; x++) {
                int sum = 1 << (PRECISION_BITS - 1);
                for (int i = 0; i < n; i++) sum += (img[(min + i) * w * channels + x] & 0xff) * cy.fixed[k + i];
                out[y * w * channels + x] = clip8(sum);
            }
        }
        return out;
    }

    private static byte clip8(int sum) {
        return (byte) Math.clamp(sum >> PRECISION_BITS, 0, 255);
    }

    /** Pillow's filters: how far each reaches and its weight at a distance. */
    private enum Filter {
        /** sinc(x)·sinc(x/3) on [-3, 3). */
        LANCZOS(SUPPORT) {
            @Override
            double at(double x) {
                if (-SUPPORT <= x && x < SUPPORT) return sinc(x) * sinc(x / SUPPORT);
                return 0.0;
            }
        },
        /** Keys' cubic convolution with a = −0.5, as Pillow's BICUBIC. */
        BICUBIC(2.0) {
            @Override
            double at(double x) {
                double a = -0.5;
                x = Math.abs(x);
                if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
                return 0.0;
            }
        };

        final double support;

        Filter(double support) {
            this.support = support;
        }

        abstract double at(double x);
    }

    private static double sinc(double x) {
        if (x == 0.0) return 1.0;
        x *= Math.PI;
        return Math.sin(x) / x;
    }

    /** For each output pixel along one axis: the first input pixel, how many are read, and their fixed-point weights. */
    private static final class Coefficients {
        final int size;
        final int[] bounds;
        final int[] fixed;

        Coefficients(Filter filter, int inSize, double in0, double in1, int outSize) {
            double scale = (in1 - in0) / outSize;
            double filterScale = Math.max(scale, 1.0);
            double support = filter.support * filterScale;
            size = (int) Math.ceil(support) * 2 + 1;
            bounds = new int[outSize * 2];
            fixed = new int[outSize * size];
            double[] k = new double[size];
            double reciprocal = 1.0 / filterScale;
            for (int xx = 0; xx < outSize; xx++) {
                double center = in0 + (xx + 0.5) * scale;
                int min = Math.max(0, (int) (center - support + 0.5)); // C's truncating cast, as Pillow rounds
                int max = Math.min(inSize, (int) (center + support + 0.5)) - min;
                double total = 0;
                for (int x = 0; x < max; x++) {
                    k[x] = filter.at((x + min - center + 0.5) * reciprocal);
                    total += k[x];
                }
                for (int x = 0; x < max; x++) {
                    double v = total != 0.0 ? k[x] / total : k[x];
                    fixed[xx * size + x] = (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
                }
                bounds[2 * xx] = min;
                bounds[2 * xx + 1] = Math.max(0, max);
            }
        }
    }
}
