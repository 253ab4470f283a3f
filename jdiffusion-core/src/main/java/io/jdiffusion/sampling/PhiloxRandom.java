package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

/**
 * A1111's "NV" noise: what CUDA's Philox4x32-10 generator gives for {@code torch.randn} on an NVIDIA
 * card, computed on the CPU the way A1111's rng_philox does it (double-precision Box-Muller). Each call
 * uses a fresh counter offset; element i of a call uses counter {@code [offset, 0, i, 0]} and the 64-bit
 * seed as key, so values do not depend on the shape.
 */
public final class PhiloxRandom implements NoiseSource {
    private static final int M0 = 0xD2511F53;
    private static final int M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;
    /** A1111 keeps 2^-32 and 2^-32·2π as float32 constants; the arithmetic around them is double. */
    private static final double TWO_POW32_INV = (float) 2.3283064e-10;
    private static final double TWO_POW32_INV_2PI = (float) (2.3283064e-10 * 6.2831855);

    private final long seed;
    private int offset;

    public PhiloxRandom(long seed) {
        this.seed = seed;
    }

    @Override
    public Tensor randn(int... shape) {
        return new Tensor(randn(Tensor.numel(shape)), shape);
    }

    public float[] randn(int n) {
        float[] out = new float[n];
        int[] c = new int[4];
        for (int i = 0; i < n; i++) {
            c[0] = offset;
            c[1] = 0;
            c[2] = i;
            c[3] = 0;
            philox10(c, (int) seed, (int) (seed >>> 32));
            out[i] = boxMuller(c[0], c[1]);
        }
        offset++;
        return out;
    }

    private static void philox10(int[] c, int k0, int k1) {
        for (int round = 0; round < 10; round++) {
            long p0 = (c[0] & 0xFFFF_FFFFL) * (M0 & 0xFFFF_FFFFL);
            long p1 = (c[2] & 0xFFFF_FFFFL) * (M1 & 0xFFFF_FFFFL);
            int c1 = c[1], c3 = c[3];
            c[0] = (int) (p1 >>> 32) ^ c1 ^ k0;
            c[1] = (int) p1;
            c[2] = (int) (p0 >>> 32) ^ c3 ^ k1;
            c[3] = (int) p0;
            k0 += W0;
            k1 += W1;
        }
    }

    private static float boxMuller(int x, int y) {
        double u = (x & 0xFFFF_FFFFL) * TWO_POW32_INV + TWO_POW32_INV / 2;
        double v = (y & 0xFFFF_FFFFL) * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2;
        double s = StrictMath.sqrt(-2.0 * StrictMath.log(u));
        return (float) (s * StrictMath.sin(v));
    }
}
