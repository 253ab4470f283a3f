package io.jdiffusion.tensor;

import java.util.Arrays;

/**
 * 2-D convolution of NCHW tensors as an implicit GEMM, one image at a time:
 * {@code out[Cout, OH·OW] = W[Cout, Cin·kh·kw] · cols[Cin·kh·kw, OH·OW]}. The weight, in torch's layout, is
 * already that row-major A (converted to float32 block by block while packing); the im2col columns are
 * gathered straight into packed B panels for one cache block at a time, never for the whole image. The
 * output rows are NCHW channel planes, so the GEMM writes the result in place.
 */
final class Convolution {
    private Convolution() {
    }

    /** Convolution with zero padding padTop/padLeft and output size oh×ow (the bottom/right padding follows). */
    static Tensor conv2d(MicroKernels mk, Gemm.Blocking blk, Tensor x, Weight w, Weight b,
                         int stride, int padTop, int padLeft, int oh, int ow) {
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        int k = cin * kh * kw;
        float[] bias = b == null ? null : b.toFloats();
        float[] out = new float[batch * cout * oh * ow];
        Gemm.ASource weights = new Gemm.WeightRowsA(w, k);
        boolean pointwise = kh == 1 && kw == 1 && stride == 1 && padTop == 0 && padLeft == 0 && oh == h && ow == wd;
        for (int n = 0; n < batch; n++) {
            int xOff = n * cin * h * wd;
            Gemm.BSource cols = pointwise
                    ? new Gemm.RowMajorB(x.data, xOff, h * wd)
                    : new Im2col(x.data, xOff, h, wd, kh, kw, stride, padTop, padLeft, ow);
            Gemm.run(mk, blk, cout, oh * ow, k, weights, cols, bias, null, out, n * cout * oh * ow, oh * ow, false);
        }
        return new Tensor(out, batch, cout, oh, ow);
    }

    /**
     * The im2col matrix of one image as GEMM operand B: row p = (ci, ky, kx) in the weight's order,
     * column j = output pixel (oy, ox); the value is the input at (ci, oy·stride − padTop + ky,
     * ox·stride − padLeft + kx), zero outside the image.
     */
    record Im2col(float[] x, int xOff, int h, int w, int kh, int kw, int stride, int padTop, int padLeft, int ow)
            implements Gemm.BSource {
        @Override
        public void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Gemm.Work work) {
            for (int jr = 0; jr < nc; jr += nr) {
                int nn = Math.min(nr, nc - jr);
                int first = j0 + jr;
                int oy0 = first / ow, ox0 = first % ow;
                int d = jr * kc;
                // (ci, ky, kx) of row p0, stepped along with p
                int ci = p0 / (kh * kw), ky = p0 / kw % kh, kx = p0 % kw;
                for (int p = 0; p < kc; p++, d += nr) {
                    gatherRow(ci, ky, kx, oy0, ox0, nn, dst, d);
                    if (nn < nr) Arrays.fill(dst, d + nn, d + nr, 0f);
                    if (++kx == kw) {
                        kx = 0;
                        if (++ky == kh) {
                            ky = 0;
                            ci++;
                        }
                    }
                }
            }
        }

        /** dst[d .. d+nn) = row (ci, ky, kx) of the columns for nn output pixels from (oy0, ox0) on. */
        private void gatherRow(int ci, int ky, int kx, int oy0, int ox0, int nn, float[] dst, int d) {
            int oy = oy0, ox = ox0;
            for (int j = 0; j < nn; ) {
                int run = Math.min(nn - j, ow - ox); // pixels left in this output row
                int iy = oy * stride - padTop + ky;
                int dj = d + j;
                if (iy < 0 || iy >= h) {
                    Arrays.fill(dst, dj, dj + run, 0f);
                } else {
                    int rowBase = xOff + (ci * h + iy) * w;
                    int ix0 = ox * stride - padLeft + kx;
                    if (stride == 1) {
                        // input columns ix0 .. ix0+run-1: the valid middle is one contiguous copy
                        int t0 = Math.min(run, Math.max(0, -ix0));
                        int t1 = Math.max(t0, Math.min(run, w - ix0));
                        if (t0 > 0) Arrays.fill(dst, dj, dj + t0, 0f);
                        if (t1 > t0) System.arraycopy(x, rowBase + ix0 + t0, dst, dj + t0, t1 - t0);
                        if (t1 < run) Arrays.fill(dst, dj + t1, dj + run, 0f);
                    } else {
                        for (int t = 0, ix = ix0; t < run; t++, ix += stride) {
                            dst[dj + t] = ix >= 0 && ix < w ? x[rowBase + ix] : 0f;
                        }
                    }
                }
                j += run;
                ox = 0;
                oy++;
            }
        }
    }
}
