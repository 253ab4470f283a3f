package io.jdiffusion.tensor;

import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class WinogradTest {
    /** {batch, Cin, Cout, H, W}: odd heights and widths (a tile half outside), widths under and over a vector of tiles. */
    private static final int[][] CASES = {
            {1, 3, 5, 4, 4},
            {2, 5, 7, 9, 11},
            {1, 17, 33, 35, 7},
            {2, 40, 19, 16, 67},
            {1, 6, 3, 1, 1},
            {2, 8, 8, 2, 3},
    };

    private static final Winograd.Tile[] TILES = {Winograd.F2, Winograd.F4};

    @Test
    void matchesTheNaiveConvolutionForEveryShapeDtypeAndTileSize() {
        Random32 r = new Random32(21);
        for (Winograd.Tile tile : TILES) {
            for (int[] cs : CASES) {
                Tensor x = r.tensor(cs[0], cs[1], cs[3], cs[4]);
                for (DType dtype : DType.values()) {
                    Weight w = r.weight(dtype, "conv.weight", cs[2], cs[1], 3, 3);
                    Weight b = r.weight(dtype, "conv.bias", cs[2]);
                    Random32.assertClose(Winograd.conv3x3(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, tile, x, w, b),
                            NaiveOps.conv2d(x, w, b, 1, 1), 1e-5);
                }
                Weight w = r.weight(DType.F32, "conv.weight", cs[2], cs[1], 3, 3);
                Random32.assertClose(Winograd.conv3x3(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, tile, x, w, null),
                        NaiveOps.conv2d(x, w, null, 1, 1), 1e-5);
            }
        }
    }

    /** The transforms as sums of rows (F(4×4)'s) on F(2×2) too, against its written-out ones. */
    @Test
    void sumsOfRowsAgreeWithTheWrittenOutTransforms() {
        Random32 r = new Random32(25);
        for (int[] cs : CASES) {
            Tensor x = r.tensor(cs[0], cs[1], cs[3], cs[4]);
            Weight w = r.weight(DType.F16, "conv.weight", cs[2], cs[1], 3, 3), b = r.weight(DType.F16, "conv.bias", cs[2]);
            Tensor written = Winograd.conv3x3(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, Winograd.F2, false, x, w, b, 1L << 30, 1L << 30);
            Tensor sums = Winograd.conv3x3(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, Winograd.F2, true, x, w, b, 1L << 30, 1L << 30);
            Random32.assertClose(sums, written, 1e-6);
            Random32.assertClose(written, NaiveOps.conv2d(x, w, b, 1, 1), 1e-5);
        }
    }

    /**
     * The two tile sizes' rounding on a convolution as wide as the UNet's (640 input channels: a sum of 5760
     * products per output), against the sum in float64: F(2×2) about as close as the direct convolution, F(4×4)
     * within 10⁻⁵ (its transforms' coefficients, up to 8 and 1/24, cost it some ten times the direct rounding).
     */
    @Test
    void roundingOnAWideConvolution() {
        Random32 r = new Random32(24);
        Tensor x = r.tensor(1, 640, 16, 20);
        Weight w = r.weight(DType.F16, "conv.weight", 24, 640, 3, 3), b = r.weight(DType.F16, "conv.bias", 24);
        float[] exact = conv3x3InDoubles(x, w.toFloats(), b.toFloats(), 24);
        double direct = Fixtures.relativeError(Convolution.direct(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, x, w, b, 1, 1, 1, 16, 20).data, exact);
        double f2 = Fixtures.relativeError(Winograd.conv3x3(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, Winograd.F2, x, w, b).data, exact);
        double f4 = Fixtures.relativeError(Winograd.conv3x3(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, Winograd.F4, x, w, b).data, exact);
        assertThat(direct).isLessThan(1e-6);
        assertThat(f2).isLessThan(3 * direct);
        assertThat(f4).isLessThan(1e-5);
    }

    /** A same-size 3×3 convolution of one image summed in float64, rounded to float once. */
    private static float[] conv3x3InDoubles(Tensor x, float[] w, float[] b, int cout) {
        int cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        float[] out = new float[cout * h * wd];
        for (int co = 0; co < cout; co++) {
            for (int oy = 0; oy < h; oy++) {
                for (int ox = 0; ox < wd; ox++) {
                    double sum = b[co];
                    for (int ci = 0; ci < cin; ci++) {
                        for (int ky = 0; ky < 3; ky++) {
                            int iy = oy + ky - 1;
                            if (iy < 0 || iy >= h) continue;
                            for (int kx = 0; kx < 3; kx++) {
                                int ix = ox + kx - 1;
                                if (ix >= 0 && ix < wd) sum += (double) w[((co * cin + ci) * 3 + ky) * 3 + kx] * x.data[(ci * h + iy) * wd + ix];
                            }
                        }
                    }
                    out[(co * h + oy) * wd + ox] = (float) sum;
                }
            }
        }
        return out;
    }

    /** Budgets so small that the tiles go one tile row per chunk and the output channels in blocks of one tile height. */
    @Test
    void chunksOfTilesAndBlocksOfChannelsAgree() {
        Random32 r = new Random32(22);
        for (int bits : new int[]{512, 256, 128}) {
            MicroKernels mk = MicroKernels.forBits(bits);
            Gemm.Blocking blk = new Gemm.Blocking(20, 2 * mk.maxMr, 3 * mk.nr, mk.nr, 1000, false, 1 << 20);
            for (Winograd.Tile tile : TILES) {
                for (int[] cs : CASES) {
                    Tensor x = r.tensor(cs[0], cs[1], cs[3], cs[4]);
                    Weight w = r.weight(DType.F16, "conv.weight", cs[2], cs[1], 3, 3);
                    Weight b = r.weight(DType.F32, "conv.bias", cs[2]);
                    Tensor expected = NaiveOps.conv2d(x, w, b, 1, 1);
                    Random32.assertClose(Winograd.conv3x3(mk, blk, tile, x, w, b, 1, 1), expected, 1e-5);
                    Random32.assertClose(Winograd.conv3x3(mk, blk, tile, x, w, b, 1L << 30, 1), expected, 1e-5);
                    Random32.assertClose(Winograd.conv3x3(mk, blk, tile, x, w, b, 1, 1L << 30), expected, 1e-5);
                }
            }
        }
    }

    /** The networks' 3×3 convolutions take this path from a 16×16 map and 32 channels on. */
    @Test
    void opsTakesItForTheNetworksSameSizeConvolutions() {
        Random32 r = new Random32(23);
        Tensor x = r.tensor(2, 32, 16, 18);
        Weight w = r.weight(DType.F16, "conv.weight", 40, 32, 3, 3), b = r.weight(DType.F16, "conv.bias", 40);
        assertThat(Winograd.applies(x, w, 1, 1, 1, 16, 18)).isEqualTo(Variants.winograd);
        assertThat(Winograd.applies(x, w, 2, 1, 1, 8, 9)).isFalse();
        assertThat(Winograd.applies(r.tensor(1, 32, 8, 8), w, 1, 1, 1, 8, 8)).isFalse();
        Random32.assertClose(Ops.conv2d(x, w, b, 1, 1), NaiveOps.conv2d(x, w, b, 1, 1), 1e-5);
    }
}
