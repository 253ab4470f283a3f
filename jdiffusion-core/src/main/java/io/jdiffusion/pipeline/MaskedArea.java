package io.jdiffusion.pipeline;

/**
 * The part of a picture that A1111's "Inpaint area: Only masked" inpaints: the box around every masked
 * pixel, widened by the padding on each side (within the picture), then widened along one axis until it
 * has the output's aspect ratio, as far as the picture allows.
 */
final class MaskedArea {
    private MaskedArea() {
    }

    /** A box of the picture: left, top, width, height in pixels. */
    record Box(int x, int y, int width, int height) {
        /** This part of the picture. */
        RgbImage cut(RgbImage picture) {
            return new RgbImage(width, height, cut(picture.rgb(), 3, picture.width()));
        }

        /** This part of interleaved pixels of {@code channels} values, {@code stride} pixels a row. */
        byte[] cut(byte[] pixels, int channels, int stride) {
            byte[] out = new byte[width * height * channels];
            for (int row = 0; row < height; row++) {
                System.arraycopy(pixels, ((y + row) * stride + x) * channels, out, row * width * channels, width * channels);
            }
            return out;
        }

        /** A copy of the picture's pixels with {@code part} (RGB, this box's size) in this box. */
        byte[] paste(byte[] part, RgbImage picture) {
            byte[] out = picture.rgb().clone();
            for (int row = 0; row < height; row++) {
                System.arraycopy(part, row * width * 3, out, ((y + row) * picture.width() + x) * 3, width * 3);
            }
            return out;
        }
    }

    /**
     * The box for the mask (one byte a pixel, non-zero = masked), of a width × height picture, for an
     * output of outWidth × outHeight. The mask must have a masked pixel ({@link #isBlank} says).
     */
    static Box around(byte[] mask, int width, int height, int padding, int outWidth, int outHeight) {
        int left = width, top = height, right = -1, bottom = -1;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                if (mask[y * width + x] == 0) continue;
                left = Math.min(left, x);
                right = Math.max(right, x);
                top = Math.min(top, y);
                bottom = Math.max(bottom, y);
            }
        }
        if (right < 0) throw new IllegalArgumentException("the mask is blank");
        int x1 = Math.max(left - padding, 0), y1 = Math.max(top - padding, 0);
        int x2 = Math.min(right + 1 + padding, width), y2 = Math.min(bottom + 1 + padding, height);

        // widen the narrower way to the output's aspect ratio, shifting back inside the picture where it overhangs
        if ((double) (x2 - x1) / (y2 - y1) > (double) outWidth / outHeight) {
            int[] span = widen(y1, y2, (int) ((x2 - x1) * (double) outHeight / outWidth - (y2 - y1)), height);
            y1 = span[0];
            y2 = span[1];
        } else {
            int[] span = widen(x1, x2, (int) ((y2 - y1) * (double) outWidth / outHeight - (x2 - x1)), width);
            x1 = span[0];
            x2 = span[1];
        }
        return new Box(x1, y1, x2 - x1, y2 - y1);
    }

    /** [from, to) grown by {@code by} (half before, half after), moved back inside [0, size), cut to it. */
    private static int[] widen(int from, int to, int by, int size) {
        from -= by / 2;
        to += by - by / 2;
        if (to > size) {
            from -= to - size;
            to = size;
        }
        if (from < 0) {
            to -= from;
            from = 0;
        }
        return new int[]{from, Math.min(to, size)};
    }

    /** True when no pixel of the mask (one byte a pixel) is masked. */
    static boolean isBlank(byte[] mask) {
        for (byte b : mask) if (b != 0) return false;
        return true;
    }
}
