package io.jdiffusion.watermark;

import io.jdiffusion.tensor.Tensor;

/**
 * The invisible watermark of the {@code invisible-watermark} library (imwatermark 0.2.0, method
 * {@code dwtDct}), which the original Stable Diffusion scripts and diffusers' SDXL pipelines add,
 * bit-compatible with that library's encoder and decoder.
 *
 * <p>The method, on the image's U (blue-difference) plane only, cut to a multiple of 4 in both sizes:
 * <ol>
 * <li>one level of the 2-D Haar wavelet transform ({@link HaarWavelet});</li>
 * <li>the approximation band is cut into 4×4 blocks in raster order; block {@code i} carries message bit
 *     {@code i mod length}, so a 512×512 image repeats a 136-bit message 30 times;</li>
 * <li>in each block the coefficient of largest magnitude other than the block's first (the first one
 *     on ties, row-major) is moved to the quarter ({@code bit 0}) or three quarters ({@code bit 1}) of its
 *     interval of width 36: |v| := (⌊|v|/36⌋ + 0.25 + 0.5·bit)·36, sign kept;</li>
 * <li>the inverse transform, which the library calls with the two detail bands swapped: that transposes
 *     every 2×2 pixel cell of the plane, so pixels change even where no coefficient moved, and we do the
 *     same to stay compatible;</li>
 * <li>8-bit images store the new U plane by truncation toward zero (a C cast), then go back to RGB.</li>
 * </ol>
 * Reading takes the same coefficient of each block and calls it 1 when |v| mod 36 > 18; a bit is 1 when
 * more than 127/255 of its blocks say 1. Nothing is searched for: the reader must know the message length.
 *
 * <p>The library refuses images under 256×256 pixels in area ({@link #MIN_PIXELS}); callers skip those.
 * Despite its name the method involves no DCT: the blocks are taken straight from the wavelet band.
 */
public final class DwtDctWatermark {
    /** The smallest area, in pixels, the library encodes or decodes (it refuses anything under 256·256). */
    public static final int MIN_PIXELS = 256 * 256;

    private static final int BLOCK = 4;
    private static final double STEP = 36;

    private DwtDctWatermark() {
    }

    /** Whether an image of this size can carry the watermark. */
    public static boolean fits(int width, int height) {
        return (long) width * height >= MIN_PIXELS;
    }

    /**
     * Watermarks an 8-bit image the way the SD 1.x/2.x scripts do (RGB → BGR → encode → RGB): the 8-bit
     * YUV conversion, the transform in float64, the new U plane truncated to 8 bits.
     *
     * @param rgb interleaved 8-bit RGB, height × width × 3 bytes; not changed
     * @return a new interleaved 8-bit RGB image
     */
    public static byte[] encodeRgb8(byte[] rgb, int width, int height, WatermarkMessage message) {
        checkSize(rgb.length, width, height);
        int n = width * height;
        int[] y = new int[n], u = new int[n], v = new int[n];
        OpenCvYuv.rgb8ToYuv(rgb, y, u, v);

        int rows = height / BLOCK * BLOCK, cols = width / BLOCK * BLOCK;
        double[] plane = new double[rows * cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) plane[r * cols + c] = u[r * width + c];
        HaarWavelet.Bands bands = HaarWavelet.forward(plane, rows, cols);
        embed(bands.aa(), rows / 2, cols / 2, message);
        double[] marked = HaarWavelet.inverse(rows, cols, bands.aa(), bands.ad(), bands.da(), bands.dd());
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                // truncation toward zero, as numpy's float → uint8 cast; for a U plane that came from RGB the
                // values stay inside 0..255 (the mark moves a pixel by at most 13.5), the clamp only guards
                u[r * width + c] = Math.clamp((long) marked[r * cols + c], 0, 255);
            }
        }
        return OpenCvYuv.yuvToRgb8(y, u, v);
    }

    /**
     * Watermarks decoded images the way diffusers' SDXL watermarker does, in float32 throughout:
     * 255·(x/2 + 0.5) → BGR → encode → RGB → clamp(2·(v/255 − 0.5), −1, 1). Unlike the 8-bit path, the
     * float YUV conversion offsets U by 0.5 and nothing is truncated.
     *
     * @param images [N, 3, H, W] in [-1, 1] (as the VAE decodes them); not changed
     * @return new images [N, 3, H, W] in [-1, 1]
     */
    public static Tensor encodeDecoded(Tensor images, WatermarkMessage message) {
        if (images.rank() != 4 || images.dim(1) != 3) {
            throw new IllegalArgumentException("expected images [N, 3, H, W], got " + java.util.Arrays.toString(images.shape));
        }
        int batch = images.dim(0), height = images.dim(2), width = images.dim(3), n = width * height;
        if (!fits(width, height)) throw tooSmall(width, height);
        float[] out = new float[images.numel()];
        float[] r = new float[n], g = new float[n], b = new float[n];
        for (int img = 0; img < batch; img++) {
            int base = img * 3 * n;
            for (int i = 0; i < n; i++) {
                r[i] = 255f * (images.data[base + i] / 2f + 0.5f);
                g[i] = 255f * (images.data[base + n + i] / 2f + 0.5f);
                b[i] = 255f * (images.data[base + 2 * n + i] / 2f + 0.5f);
            }
            encodeFloat(r, g, b, width, height, message);
            for (int i = 0; i < n; i++) {
                out[base + i] = backToSigned(r[i]);
                out[base + n + i] = backToSigned(g[i]);
                out[base + 2 * n + i] = backToSigned(b[i]);
            }
        }
        return new Tensor(out, images.shape);
    }

    /** Float R, G, B planes in 0..255 (values outside are kept), watermarked in place. */
    static void encodeFloat(float[] r, float[] g, float[] b, int width, int height, WatermarkMessage message) {
        int n = width * height;
        float[] y = new float[n], u = new float[n], v = new float[n];
        OpenCvYuv.rgbToYuv(r, g, b, y, u, v);
        int rows = height / BLOCK * BLOCK, cols = width / BLOCK * BLOCK;
        float[] plane = new float[rows * cols];
        for (int row = 0; row < rows; row++) System.arraycopy(u, row * width, plane, row * cols, cols);
        HaarWavelet.FloatBands bands = HaarWavelet.forward(plane, rows, cols);
        float[] aa = bands.aa();
        double[] approx = new double[aa.length];
        for (int i = 0; i < aa.length; i++) approx[i] = aa[i];
        embed(approx, rows / 2, cols / 2, message);
        // exact: a moved coefficient is a multiple of 9 below 2^24, every other one a float to begin with
        for (int i = 0; i < aa.length; i++) aa[i] = (float) approx[i];
        float[] marked = HaarWavelet.inverse(rows, cols, aa, bands.ad(), bands.da(), bands.dd());
        for (int row = 0; row < rows; row++) System.arraycopy(marked, row * cols, u, row * width, cols);
        OpenCvYuv.yuvToRgb(y, u, v, r, g, b);
    }

    private static float backToSigned(float v) {
        return Math.clamp(2f * (v / 255f - 0.5f), -1f, 1f);
    }

    /**
     * Reads {@code bits} message bits from an 8-bit image as the library's decoder does on what
     * {@code cv2.imread} gives it.
     *
     * @param rgb interleaved 8-bit RGB, height × width × 3 bytes
     */
    public static boolean[] readRgb8(byte[] rgb, int width, int height, int bits) {
        checkSize(rgb.length, width, height);
        if (bits < 1) throw new IllegalArgumentException("message length " + bits);
        int n = width * height;
        int[] y = new int[n], u = new int[n], v = new int[n];
        OpenCvYuv.rgb8ToYuv(rgb, y, u, v);
        int rows = height / BLOCK * BLOCK, cols = width / BLOCK * BLOCK;
        double[] plane = new double[rows * cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) plane[r * cols + c] = u[r * width + c];
        return read(HaarWavelet.approximation(plane, rows, cols), rows / 2, cols / 2, bits);
    }

    /** Reads message bits from float R, G, B planes in 0..255, as the library's decoder does on a float image. */
    static boolean[] readFloat(float[] r, float[] g, float[] b, int width, int height, int bits) {
        int n = width * height;
        float[] y = new float[n], u = new float[n], v = new float[n];
        OpenCvYuv.rgbToYuv(r, g, b, y, u, v);
        int rows = height / BLOCK * BLOCK, cols = width / BLOCK * BLOCK;
        float[] plane = new float[rows * cols];
        for (int row = 0; row < rows; row++) System.arraycopy(u, row * width, plane, row * cols, cols);
        float[] aa = HaarWavelet.forward(plane, rows, cols).aa();
        double[] approx = new double[aa.length];
        for (int i = 0; i < aa.length; i++) approx[i] = aa[i];
        return read(approx, rows / 2, cols / 2, bits);
    }

    /** Moves each block's carrier coefficient to the position that encodes its bit. */
    private static void embed(double[] band, int rows, int cols, WatermarkMessage message) {
        int block = 0;
        for (int br = 0; br + BLOCK <= rows; br += BLOCK) {
            for (int bc = 0; bc + BLOCK <= cols; bc += BLOCK) {
                int at = carrier(band, cols, br, bc);
                boolean bit = message.bit(block % message.length());
                double magnitude = (floorDiv(Math.abs(band[at])) + 0.25 + (bit ? 0.5 : 0.0)) * STEP;
                band[at] = band[at] >= 0 ? magnitude : -magnitude;
                block++;
            }
        }
    }

    /** Each bit's vote over its blocks: 1 when the share of blocks reading 1, times 255, exceeds 127. */
    private static boolean[] read(double[] band, int rows, int cols, int bits) {
        int[] ones = new int[bits], blocks = new int[bits];
        int block = 0;
        for (int br = 0; br + BLOCK <= rows; br += BLOCK) {
            for (int bc = 0; bc + BLOCK <= cols; bc += BLOCK) {
                double magnitude = Math.abs(band[carrier(band, cols, br, bc)]);
                int bit = block % bits;
                if (magnitude % STEP > STEP / 2) ones[bit]++;
                blocks[bit]++;
                block++;
            }
        }
        boolean[] out = new boolean[bits];
        for (int i = 0; i < bits; i++) {
            // the library's numpy mean then "* 255 > 127", same double operations (a bit without blocks reads 0)
            out[i] = blocks[i] > 0 && (double) ones[i] / blocks[i] * 255 > 127;
        }
        return out;
    }

    /** Index in the band of the block's coefficient of largest magnitude, leaving out its first; first wins ties. */
    private static int carrier(double[] band, int cols, int br, int bc) {
        int best = -1;
        double bestMagnitude = -1;
        for (int k = 1; k < BLOCK * BLOCK; k++) {
            int at = (br + k / BLOCK) * cols + bc + k % BLOCK;
            double magnitude = Math.abs(band[at]);
            if (magnitude > bestMagnitude) {
                bestMagnitude = magnitude;
                best = at;
            }
        }
        return best;
    }

    /** ⌊m/36⌋ for m ≥ 0, exact (as Python's float floor division), also when m/36 would round up to an integer. */
    private static double floorDiv(double m) {
        return (m - m % STEP) / STEP;
    }

    private static void checkSize(int bytes, int width, int height) {
        if (width < 1 || height < 1 || bytes != (long) width * height * 3) {
            throw new IllegalArgumentException(bytes + " bytes for a " + width + "x" + height + " RGB image");
        }
        if (!fits(width, height)) throw tooSmall(width, height);
    }

    private static IllegalArgumentException tooSmall(int width, int height) {
        return new IllegalArgumentException(width + "x" + height + " is under the " + MIN_PIXELS
                + " pixels (256x256) the dwtDct watermark needs");
    }
}
