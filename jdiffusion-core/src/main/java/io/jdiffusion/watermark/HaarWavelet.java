package io.jdiffusion.watermark;

/**
 * One level of the 2-D Haar wavelet transform as PyWavelets computes {@code dwt2}/{@code idwt2} with
 * {@code 'haar'} on even-sized planes: first along the rows' axis (vertical pairs), then along the
 * columns' axis, each output the same two rounded products added in the same order, so the coefficients
 * are bit-identical to PyWavelets' in float64 and in float32 (it keeps float32 input in float32).
 *
 * <p>Band names follow PyWavelets' keys: the first letter is the vertical filter, the second the
 * horizontal one ({@code a} = average, {@code d} = difference). {@code dwt2} returns them as
 * {@code (aa, (da, ad, dd))}, calling {@code da} the horizontal and {@code ad} the vertical detail.
 */
final class HaarWavelet {
    /** db1's filter tap 1/√2 as PyWavelets stores it, in double and in float. */
    private static final double TAP = 0.70710678118654752440;
    private static final float TAP_F = (float) TAP;

    private HaarWavelet() {
    }

    /** The four bands of a plane, each (rows/2) × (cols/2), row-major. */
    record Bands(int rows, int cols, double[] aa, double[] da, double[] ad, double[] dd) {
    }

    record FloatBands(int rows, int cols, float[] aa, float[] da, float[] ad, float[] dd) {
    }

    static Bands forward(double[] x, int rows, int cols) {
        int hr = rows / 2, hc = cols / 2;
        double[] lo = new double[hr * cols], hi = new double[hr * cols];
        for (int r = 0; r < hr; r++) {
            for (int c = 0; c < cols; c++) {
                double top = x[(2 * r) * cols + c], bottom = x[(2 * r + 1) * cols + c];
                lo[r * cols + c] = TAP * bottom + TAP * top;
                hi[r * cols + c] = -TAP * bottom + TAP * top;
            }
        }
        double[] aa = new double[hr * hc], ad = new double[hr * hc], da = new double[hr * hc], dd = new double[hr * hc];
        for (int r = 0; r < hr; r++) {
            for (int k = 0; k < hc; k++) {
                int left = r * cols + 2 * k, out = r * hc + k;
                aa[out] = TAP * lo[left + 1] + TAP * lo[left];
                ad[out] = -TAP * lo[left + 1] + TAP * lo[left];
                da[out] = TAP * hi[left + 1] + TAP * hi[left];
                dd[out] = -TAP * hi[left + 1] + TAP * hi[left];
            }
        }
        return new Bands(rows, cols, aa, da, ad, dd);
    }

    /** Only the {@code aa} band, computed with exactly the operations {@link #forward} uses for it. */
    static double[] approximation(double[] x, int rows, int cols) {
        int hr = rows / 2, hc = cols / 2;
        double[] aa = new double[hr * hc];
        double[] lo = new double[cols];
        for (int r = 0; r < hr; r++) {
            for (int c = 0; c < cols; c++) lo[c] = TAP * x[(2 * r + 1) * cols + c] + TAP * x[(2 * r) * cols + c];
            for (int k = 0; k < hc; k++) aa[r * hc + k] = TAP * lo[2 * k + 1] + TAP * lo[2 * k];
        }
        return aa;
    }

    /** The plane (rows × cols) whose bands these are; PyWavelets' {@code idwt2((aa, (da, ad, dd)))}. */
    static double[] inverse(int rows, int cols, double[] aa, double[] da, double[] ad, double[] dd) {
        int hr = rows / 2, hc = cols / 2;
        // along the columns' axis: aa with ad gives the vertical averages, da with dd the vertical differences
        double[] lo = new double[hr * cols], hi = new double[hr * cols];
        for (int r = 0; r < hr; r++) {
            for (int k = 0; k < hc; k++) {
                int in = r * hc + k, left = r * cols + 2 * k;
                lo[left] = TAP * aa[in] + TAP * ad[in];
                lo[left + 1] = TAP * aa[in] + -TAP * ad[in];
                hi[left] = TAP * da[in] + TAP * dd[in];
                hi[left + 1] = TAP * da[in] + -TAP * dd[in];
            }
        }
        double[] x = new double[rows * cols];
        for (int r = 0; r < hr; r++) {
            for (int c = 0; c < cols; c++) {
                double a = lo[r * cols + c], d = hi[r * cols + c];
                x[(2 * r) * cols + c] = TAP * a + TAP * d;
                x[(2 * r + 1) * cols + c] = TAP * a + -TAP * d;
            }
        }
        return x;
    }

    static FloatBands forward(float[] x, int rows, int cols) {
        int hr = rows / 2, hc = cols / 2;
        float[] lo = new float[hr * cols], hi = new float[hr * cols];
        for (int r = 0; r < hr; r++) {
            for (int c = 0; c < cols; c++) {
                float top = x[(2 * r) * cols + c], bottom = x[(2 * r + 1) * cols + c];
                lo[r * cols + c] = TAP_F * bottom + TAP_F * top;
                hi[r * cols + c] = -TAP_F * bottom + TAP_F * top;
            }
        }
        float[] aa = new float[hr * hc], ad = new float[hr * hc], da = new float[hr * hc], dd = new float[hr * hc];
        for (int r = 0; r < hr; r++) {
            for (int k = 0; k < hc; k++) {
                int left = r * cols + 2 * k, out = r * hc + k;
                aa[out] = TAP_F * lo[left + 1] + TAP_F * lo[left];
                ad[out] = -TAP_F * lo[left + 1] + TAP_F * lo[left];
                da[out] = TAP_F * hi[left + 1] + TAP_F * hi[left];
                dd[out] = -TAP_F * hi[left + 1] + TAP_F * hi[left];
            }
        }
        return new FloatBands(rows, cols, aa, da, ad, dd);
    }

    static float[] inverse(int rows, int cols, float[] aa, float[] da, float[] ad, float[] dd) {
        int hr = rows / 2, hc = cols / 2;
        float[] lo = new float[hr * cols], hi = new float[hr * cols];
        for (int r = 0; r < hr; r++) {
            for (int k = 0; k < hc; k++) {
                int in = r * hc + k, left = r * cols + 2 * k;
                lo[left] = TAP_F * aa[in] + TAP_F * ad[in];
                lo[left + 1] = TAP_F * aa[in] + -TAP_F * ad[in];
                hi[left] = TAP_F * da[in] + TAP_F * dd[in];
                hi[left + 1] = TAP_F * da[in] + -TAP_F * dd[in];
            }
        }
        float[] x = new float[rows * cols];
        for (int r = 0; r < hr; r++) {
            for (int c = 0; c < cols; c++) {
                float a = lo[r * cols + c], d = hi[r * cols + c];
                x[(2 * r) * cols + c] = TAP_F * a + TAP_F * d;
                x[(2 * r + 1) * cols + c] = TAP_F * a + -TAP_F * d;
            }
        }
        return x;
    }
}
