package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * 2-D convolution of NCHW tensors as an implicit GEMM:
 * {@code out[Cout, pixels] = W[Cout, Cin·kh·kw] · cols[Cin·kh·kw, pixels]}, the pixels of all images of the
 * batch side by side (so each weight block is converted once for the whole batch). The weight, in torch's
 * layout, is already that row-major A (converted to float32 block by block while packing); the im2col
 * columns are gathered straight into packed B panels for one cache block at a time, never for the whole
 * image. Each image's output rows are its NCHW channel planes, so the GEMM writes the result in place.
 */
final class Convolution {
    private Convolution() {
    }

    /** Convolution with zero padding padTop/padLeft and output size oh×ow (the bottom/right padding follows). */
    static Tensor conv2d(MicroKernels mk, Gemm.Blocking blk, Tensor x, Weight w, Weight b,
                         int stride, int padTop, int padLeft, int oh, int ow) {
        if (Winograd.applies(x, w, stride, padTop, padLeft, oh, ow)) return Winograd.conv3x3(mk, blk, x, w, b);
        if (fewOutputsApplies(x, w, stride, padTop, padLeft, oh, ow)) return fewOutputs(x, w, b);
        return direct(mk, blk, x, w, b, stride, padTop, padLeft, oh, ow);
    }

    /** The most output channels {@link #fewOutputs} takes: its accumulators are one per channel and vector. */
    static final int FEW_OUTPUTS = 4;

    static boolean fewOutputsApplies(Tensor x, Weight w, int stride, int padTop, int padLeft, int oh, int ow) {
        return w.dim(0) <= FEW_OUTPUTS && w.dim(2) == 3 && w.dim(3) == 3 && stride == 1 && padTop == 1 && padLeft == 1
                && oh == x.dim(2) && ow == x.dim(3) && ow >= 2 * S.length() + 2;
    }

    /**
     * A 3×3 same-size convolution (stride 1, padding 1) to at most {@link #FEW_OUTPUTS} channels: the networks'
     * last layers (the VAE's to RGB, the UNet's to the latent channels). As a GEMM it has 1 to 4 rows, and
     * packing its im2col columns costs far more than its few multiply-adds (the VAE's at 512²: 0.4 s for
     * 1.8 GFLOP). Here a strip of two vectors of output pixels keeps all output channels in registers over every
     * input channel and tap, reading the input in place: the strips start one pixel in and the last one ends one
     * pixel short of the edge (overlapping its neighbour), so that no read leaves the row; the first and last
     * pixel of each row, whose taps reach into the padding, are summed one at a time.
     */
    static Tensor fewOutputs(Tensor x, Weight w, Weight b) {
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3), cout = w.dim(0);
        // the weights as [ci][ky][kx][FEW_OUTPUTS], zero for channels past cout
        float[] given = w.toFloats(), weights = new float[cin * 9 * FEW_OUTPUTS];
        for (int co = 0; co < cout; co++) {
            for (int t = 0; t < cin * 9; t++) weights[t * FEW_OUTPUTS + co] = given[co * cin * 9 + t];
        }
        float[] bias = new float[FEW_OUTPUTS];
        if (b != null) System.arraycopy(b.toFloats(), 0, bias, 0, cout);
        float[] out = Workspace.floats(batch * cout * h * wd);
        int strip = 2 * S.length();
        Parallel.forRange(batch * h, 2, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int n = r / h, y = r % h;
                int kyFirst = y == 0 ? 1 : 0, kyEnd = y == h - 1 ? 2 : 3;
                for (int x0 = 1; x0 < wd - 1; x0 += strip) {
                    strip(x.data, weights, bias, out, n, y, Math.min(x0, wd - 1 - strip), cin, cout, h, wd, kyFirst, kyEnd);
                }
                edgePixel(x.data, weights, bias, out, n, y, 0, cin, cout, h, wd, kyFirst, kyEnd);
                edgePixel(x.data, weights, bias, out, n, y, wd - 1, cin, cout, h, wd, kyFirst, kyEnd);
            }
        });
        return new Tensor(out, batch, cout, h, wd);
    }

    /** Output pixels x0 .. x0 + 2·lanes of row y, every channel; all their taps lie inside the row. */
    private static void strip(float[] in, float[] weights, float[] bias, float[] out, int n, int y, int x0,
                              int cin, int cout, int h, int wd, int kyFirst, int kyEnd) {
        int lanes = S.length();
        FloatVector a00 = FloatVector.broadcast(S, bias[0]), a01 = a00, a10 = FloatVector.broadcast(S, bias[1]), a11 = a10;
        FloatVector a20 = FloatVector.broadcast(S, bias[2]), a21 = a20, a30 = FloatVector.broadcast(S, bias[3]), a31 = a30;
        for (int ci = 0; ci < cin; ci++) {
            for (int ky = kyFirst; ky < kyEnd; ky++) {
                int src = ((n * cin + ci) * h + y + ky - 1) * wd + x0 - 1;
                int t = ((ci * 3 + ky) * 3) * FEW_OUTPUTS;
                for (int kx = 0; kx < 3; kx++, src++, t += FEW_OUTPUTS) {
                    FloatVector v0 = FloatVector.fromArray(S, in, src), v1 = FloatVector.fromArray(S, in, src + lanes);
                    FloatVector w0 = FloatVector.broadcast(S, weights[t]), w1 = FloatVector.broadcast(S, weights[t + 1]);
                    FloatVector w2 = FloatVector.broadcast(S, weights[t + 2]), w3 = FloatVector.broadcast(S, weights[t + 3]);
                    a00 = v0.fma(w0, a00);
                    a01 = v1.fma(w0, a01);
                    a10 = v0.fma(w1, a10);
                    a11 = v1.fma(w1, a11);
                    a20 = v0.fma(w2, a20);
                    a21 = v1.fma(w2, a21);
                    a30 = v0.fma(w3, a30);
                    a31 = v1.fma(w3, a31);
                }
            }
        }
        int o = (n * cout * h + y) * wd + x0, plane = h * wd;
        a00.intoArray(out, o);
        a01.intoArray(out, o + lanes);
        if (cout > 1) {
            a10.intoArray(out, o + plane);
            a11.intoArray(out, o + plane + lanes);
        }
        if (cout > 2) {
            a20.intoArray(out, o + 2 * plane);
            a21.intoArray(out, o + 2 * plane + lanes);
        }
        if (cout > 3) {
            a30.intoArray(out, o + 3 * plane);
            a31.intoArray(out, o + 3 * plane + lanes);
        }
    }

    /** Output pixel px of row y, every channel, its taps outside the image left out. */
    private static void edgePixel(float[] in, float[] weights, float[] bias, float[] out, int n, int y, int px,
                                  int cin, int cout, int h, int wd, int kyFirst, int kyEnd) {
        for (int co = 0; co < cout; co++) {
            float sum = bias[co];
            for (int ci = 0; ci < cin; ci++) {
                for (int ky = kyFirst; ky < kyEnd; ky++) {
                    for (int kx = 0; kx < 3; kx++) {
                        int ix = px + kx - 1;
                        if (ix < 0 || ix >= wd) continue;
                        sum = Math.fma(weights[((ci * 3 + ky) * 3 + kx) * FEW_OUTPUTS + co], in[((n * cin + ci) * h + y + ky - 1) * wd + ix], sum);
                    }
                }
            }
            out[((n * cout + co) * h + y) * wd + px] = sum;
        }
    }

    /** {@link #conv2d} as one implicit GEMM, whatever the kernel. */
    static Tensor direct(MicroKernels mk, Gemm.Blocking blk, Tensor x, Weight w, Weight b,
                         int stride, int padTop, int padLeft, int oh, int ow) {
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        int k = cin * kh * kw, pixels = oh * ow;
        float[] bias = b == null ? null : b.toFloats();
        float[] out = Workspace.floats(batch * cout * pixels);
        // output rows narrower than a panel (the UNet's smallest levels): the panel rows are several short
        // runs, clipped at the borders, so the input is first copied with its padding (a small image)
        float[] padded = stride == 1 && ow < mk.nr && (kh > 1 || kw > 1) ? padded(x, padTop, padLeft, oh + kh - 1, ow + kw - 1) : null;
        Gemm.run(mk, blk, cout, batch * pixels, k, new Gemm.WeightRowsA(w, k),
                new Im2col(x.data, cin, h, wd, kh, kw, stride, padTop, padLeft, oh, ow, padded), bias, null,
                new Gemm.Out(out, 0, pixels, pixels, cout * pixels), false);
        return new Tensor(out, batch, cout, oh, ow);
    }

    /** x [B, C, h, w] placed at (top, left) in zero planes of hp×wp (cropped where they are smaller). */
    private static float[] padded(Tensor x, int top, int left, int hp, int wp) {
        int planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
        float[] p = Workspace.zeros(planes * hp * wp);
        int rows = Math.min(h, hp - top), cols = Math.min(w, wp - left);
        for (int c = 0; c < planes; c++) {
            for (int y = 0; y < rows; y++) System.arraycopy(x.data, (c * h + y) * w, p, (c * hp + y + top) * wp + left, cols);
        }
        return p;
    }

    /** dst[d ..] = src[s ..] for len floats, in vectors (masked for a part vector). */
    private static void copyVectors(float[] src, int s, float[] dst, int d, int len) {
        int lanes = S.length(), t = 0;
        for (; t + lanes <= len; t += lanes) FloatVector.fromArray(S, src, s + t).intoArray(dst, d + t);
        if (t < len) {
            VectorMask<Float> m = S.indexInRange(t, len);
            FloatVector.fromArray(S, src, s + t, m).intoArray(dst, d + t, m);
        }
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * dst[dj + t] = x[rowBase + ix0 + t] for t below run, zero where the input column ix0 + t is outside
     * [0, w) (the padding): the valid columns one bulk copy, the padding around them filled.
     */
    private static void copyClipped(float[] x, int rowBase, int ix0, int w, float[] dst, int dj, int run) {
        if (ix0 >= 0 && ix0 + run <= w) {
            System.arraycopy(x, rowBase + ix0, dst, dj, run);
            return;
        }
        int lo = Math.max(0, -ix0), hi = Math.min(run, w - ix0);
        if (lo > 0) Arrays.fill(dst, dj, dj + Math.min(lo, run), 0f); // lo may pass run: a run wholly left of the image
        if (hi > lo) System.arraycopy(x, rowBase + ix0 + lo, dst, dj + lo, hi - lo);
        if (hi < run) Arrays.fill(dst, dj + Math.max(lo, hi), dj + run, 0f);
    }

    /**
     * The im2col matrix of a batch as GEMM operand B: row p = (ci, ky, kx) in the weight's order, column
     * j = (image, oy, ox); the value is that image's input at (ci, oy·stride − padTop + ky,
     * ox·stride − padLeft + kx), zero outside it.
     */
    record Im2col(float[] x, int cin, int h, int w, int kh, int kw, int stride, int padTop, int padLeft, int oh, int ow,
                  float[] padded) implements Gemm.BSource {
        @Override
        public double cost() {
            return 4;
        }

        /** A 1×1 convolution without stride or padding: a column run may go on across output rows. */
        private boolean pointwise() {
            return kh == 1 && kw == 1 && stride == 1 && padTop == 0 && padLeft == 0 && oh == h && ow == w;
        }

        @Override
        public void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Gemm.Work work) {
            int pixels = oh * ow;
            boolean pointwise = pointwise();
            int[] ints = work.ints(RUN * nr + 3 * kc);
            int[] runs = ints;
            // (ci, ky, kx) of each of the block's rows, at ints[taps + 3·p ..], worked out once for all its panels
            int taps = RUN * nr;
            for (int p = 0, ci = p0 / (kh * kw), ky = p0 / kw % kh, kx = p0 % kw; p < kc; p++) {
                ints[taps + 3 * p] = ci;
                ints[taps + 3 * p + 1] = ky;
                ints[taps + 3 * p + 2] = kx;
                if (++kx == kw) {
                    kx = 0;
                    if (++ky == kh) {
                        ky = 0;
                        ci++;
                    }
                }
            }
            for (int jr = 0; jr < nc; jr += nr) {
                int nn = Math.min(nr, nc - jr);
                int first = j0 + jr;
                int image = first / pixels, q = first % pixels;
                int d = jr * kc;
                if (pointwise && q + nn <= pixels) {
                    // a 1×1 convolution's columns within one image: each row a plain copy from channel p
                    int src = (image * cin + p0) * pixels + q;
                    for (int p = 0; p < kc; p++, d += nr, src += pixels) {
                        System.arraycopy(x, src, dst, d, nn);
                        if (nn < nr) Arrays.fill(dst, d + nn, d + nr, 0f);
                    }
                    continue;
                }
                if (!pointwise && stride == 1 && q % ow + nn <= ow) {
                    // the common case when output rows are at least a panel wide: one run, filled down all rows
                    packRun(image, q / ow, q % ow, nn, nr, kc, ints, taps, dst, d);
                    if (nn < nr) {
                        for (int p = 0; p < kc; p++) Arrays.fill(dst, d + p * nr + nn, d + (p + 1) * nr, 0f);
                    }
                    continue;
                }
                // the panel's columns as runs of consecutive output pixels, worked out once for all its rows
                int count = panelRuns(image, q, nn, pointwise, runs);
                if (padded != null) {
                    packPadded(runs, count, nn, nr, kc, ints, taps, dst, d);
                    continue;
                }
                for (int p = 0, t = taps; p < kc; p++, d += nr, t += 3) {
                    gatherRow(ints[t], ints[t + 1], ints[t + 2], runs, count, pointwise, dst, d);
                    if (nn < nr) Arrays.fill(dst, d + nn, d + nr, 0f);
                }
            }
        }

        /**
         * A stride-1 run of len output pixels of image from (oy, ox0) on, for the block's kc rows (their (ci,
         * ky, kx) at ints[taps ..]): row p at dst[d + p·nr ..] is len consecutive input values.
         */
        private void packRun(int image, int oy, int ox0, int len, int nr, int kc, int[] ints, int taps, float[] dst, int d) {
            int ixFirst = ox0 - padLeft;
            for (int p = 0, t = taps; p < kc; p++, d += nr, t += 3) {
                int ci = ints[t], ky = ints[t + 1], kx = ints[t + 2];
                int iy = oy - padTop + ky, ix0 = ixFirst + kx;
                if (iy < 0 || iy >= h) Arrays.fill(dst, d, d + len, 0f);
                else copyClipped(x, ((image * cin + ci) * h + iy) * w, ix0, w, dst, d, len);
            }
        }

        /**
         * A panel from the padded input (stride 1): row p = (ci, ky, kx) of run r is the run's input row
         * shifted by (ky, kx), read whole with no clipping; zero past nn.
         */
        private void packPadded(int[] runs, int count, int nn, int nr, int kc, int[] ints, int taps, float[] dst, int d) {
            int hp = oh + kh - 1, wp = ow + kw - 1, plane = hp * wp;
            for (int p = 0, t = taps; p < kc; p++, d += nr, t += 3) {
                int shift = ints[t] * plane + ints[t + 1] * wp + ints[t + 2];
                for (int r = 0; r < count; r++) {
                    int at = RUN * r;
                    int src = runs[at] * cin * plane + runs[at + 1] * wp + runs[at + 2] + shift;
                    copyVectors(padded, src, dst, d + runs[at + 4], runs[at + 3]);
                }
                if (nn < nr) Arrays.fill(dst, d + nn, d + nr, 0f);
            }
        }

        /** Ints per run in {@link #panelRuns}' output. */
        private static final int RUN = 5;

        /**
         * Splits nn output pixels from pixel q of image on into runs along an output row (along the image,
         * for a 1×1 convolution): runs[RUN·r ..] = image, output row, output column, length, column offset
         * in the panel. Returns the number of runs.
         */
        private int panelRuns(int image, int q, int nn, boolean pointwise, int[] runs) {
            int pixels = oh * ow, count = 0;
            for (int j = 0; j < nn; count++) {
                int run = Math.min(nn - j, pointwise ? pixels - q : ow - q % ow);
                int at = RUN * count;
                runs[at] = image;
                runs[at + 1] = q / ow;
                runs[at + 2] = q % ow;
                runs[at + 3] = run;
                runs[at + 4] = j;
                j += run;
                q += run;
                if (q == pixels) {
                    q = 0;
                    image++;
                }
            }
            return count;
        }

        /** dst[d ..] = row (ci, ky, kx) of the columns, the panel's pixels given as runs by {@link #panelRuns}. */
        private void gatherRow(int ci, int ky, int kx, int[] runs, int count, boolean pointwise, float[] dst, int d) {
            for (int r = 0; r < count; r++) {
                int at = RUN * r;
                int image = runs[at], oy = runs[at + 1], ox = runs[at + 2], run = runs[at + 3], dj = d + runs[at + 4];
                int iy = oy * stride - padTop + ky;
                if (iy < 0 || iy >= h) {
                    Arrays.fill(dst, dj, dj + run, 0f);
                    continue;
                }
                int rowBase = ((image * cin + ci) * h + iy) * w;
                int ix0 = ox * stride - padLeft + kx;
                if (pointwise) {
                    System.arraycopy(x, rowBase + ix0, dst, dj, run);
                } else if (stride == 1) {
                    copyClipped(x, rowBase, ix0, w, dst, dj, run);
                } else {
                    for (int t = 0, ix = ix0; t < run; t++, ix += stride) {
                        dst[dj + t] = ix >= 0 && ix < w ? x[rowBase + ix] : 0f;
                    }
                }
            }
        }
    }
}
