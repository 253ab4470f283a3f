package io.jdiffusion.model.dpt;

import io.jdiffusion.tensor.Parallel;
import io.jdiffusion.tensor.Tensor;

/**
 * Resizing of NCHW float maps as torch's {@code interpolate} computes it on the CPU in float32: bilinear and
 * bicubic (Keys' cubic with a = −0.75), with or without {@code align_corners}. Each output pixel maps back to
 * a real source position; its neighbours (clamped at the border) are weighted along x first, then along y.
 */
public final class Interpolation {
    private static final float CUBIC_A = -0.75f;

    private Interpolation() {
    }

    /** Bilinear resize to height × width. */
    public static Tensor bilinear(Tensor x, int height, int width, boolean alignCorners) {
        return resize(x, height, width, alignCorners, false);
    }

    /** Bicubic resize to height × width (no antialiasing, as torch's default). */
    public static Tensor bicubic(Tensor x, int height, int width, boolean alignCorners) {
        return resize(x, height, width, alignCorners, true);
    }

    private static Tensor resize(Tensor x, int height, int width, boolean alignCorners, boolean cubic) {
        int planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
        Taps ty = new Taps(h, height, alignCorners, cubic), tx = new Taps(w, width, alignCorners, cubic);
        int n = ty.count;
        float[] in = x.data, out = new float[planes * height * width];
        Parallel.forRange(planes, 1, (p0, p1) -> {
            // each source row is weighted along x once; the output rows then weight those rows along y, which
            // is the same arithmetic in the same order as weighting the neighbours pixel by pixel
            float[] rows = new float[h * width];
            for (int p = p0; p < p1; p++) {
                int src = p * h * w;
                for (int y = 0; y < h; y++) {
                    int row = src + y * w;
                    for (int ox = 0; ox < width; ox++) {
                        float along = 0;
                        for (int i = 0; i < n; i++) along += in[row + tx.index[ox * n + i]] * tx.weight[ox * n + i];
                        rows[y * width + ox] = along;
                    }
                }
                for (int oy = 0; oy < height; oy++) {
                    int dst = (p * height + oy) * width;
                    for (int ox = 0; ox < width; ox++) {
                        float sum = 0;
                        for (int j = 0; j < n; j++) sum += rows[ty.index[oy * n + j] * width + ox] * ty.weight[oy * n + j];
                        out[dst + ox] = sum;
                    }
                }
            }
        });
        return new Tensor(out, x.dim(0), x.dim(1), height, width);
    }

    /** For each output position along one axis: the source indices it reads and their weights. */
    private static final class Taps {
        final int count;
        final int[] index;
        final float[] weight;

        Taps(int inSize, int outSize, boolean alignCorners, boolean cubic) {
            count = cubic ? 4 : 2;
            index = new int[outSize * count];
            weight = new float[outSize * count];
            float scale = alignCorners ? (outSize > 1 ? (float) (inSize - 1) / (outSize - 1) : 0f) : (float) inSize / outSize;
            for (int o = 0; o < outSize; o++) {
                float real = alignCorners ? scale * o : scale * (o + 0.5f) - 0.5f;
                if (!cubic && real < 0) real = 0; // linear modes clamp the position itself
                // the lower neighbour floored and kept inside the input, the fraction kept in [0, 1]
                int base = Math.min(Math.max((int) Math.floor(real), 0), inSize - 1);
                float t = Math.min(Math.max(real - base, 0f), 1f);
                int k = o * count;
                if (cubic) {
                    float[] c = {cubicFar(t + 1), cubicNear(t), cubicNear(1 - t), cubicFar(2 - t)};
                    for (int i = 0; i < 4; i++) {
                        index[k + i] = Math.min(Math.max(base - 1 + i, 0), inSize - 1);
                        weight[k + i] = c[i];
                    }
                } else if (inSize == outSize && !alignCorners) {
                    index[k] = index[k + 1] = o;
                    weight[k] = 1f;
                } else {
                    index[k] = base;
                    index[k + 1] = base < inSize - 1 ? base + 1 : base;
                    weight[k] = 1f - t;
                    weight[k + 1] = t;
                }
            }
        }

        /** Keys' kernel for |x| ≤ 1. */
        private static float cubicNear(float x) {
            return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
        }

        /** Keys' kernel for 1 < |x| < 2. */
        private static float cubicFar(float x) {
            return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
        }
    }
}
