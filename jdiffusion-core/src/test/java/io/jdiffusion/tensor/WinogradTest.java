package io.jdiffusion.tensor;

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

    @Test
    void matchesTheNaiveConvolutionForEveryShapeAndDtype() {
        Random32 r = new Random32(21);
        for (int[] cs : CASES) {
            Tensor x = r.tensor(cs[0], cs[1], cs[3], cs[4]);
            for (DType dtype : DType.values()) {
                Weight w = r.weight(dtype, "conv.weight", cs[2], cs[1], 3, 3);
                Weight b = r.weight(dtype, "conv.bias", cs[2]);
                Random32.assertClose(Winograd.conv3x3(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, x, w, b),
                        NaiveOps.conv2d(x, w, b, 1, 1), 1e-5);
            }
            Weight w = r.weight(DType.F32, "conv.weight", cs[2], cs[1], 3, 3);
            Random32.assertClose(Winograd.conv3x3(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, x, w, null),
                    NaiveOps.conv2d(x, w, null, 1, 1), 1e-5);
        }
    }

    /** Budgets so small that the tiles go one tile row per chunk and the output channels in blocks of one tile height. */
    @Test
    void chunksOfTilesAndBlocksOfChannelsAgree() {
        Random32 r = new Random32(22);
        for (int bits : new int[]{512, 256, 128}) {
            MicroKernels mk = MicroKernels.forBits(bits);
            Gemm.Blocking blk = new Gemm.Blocking(20, 2 * mk.maxMr, 3 * mk.nr, mk.nr, 1000, false, 1 << 20);
            for (int[] cs : CASES) {
                Tensor x = r.tensor(cs[0], cs[1], cs[3], cs[4]);
                Weight w = r.weight(DType.F16, "conv.weight", cs[2], cs[1], 3, 3);
                Weight b = r.weight(DType.F32, "conv.bias", cs[2]);
                Tensor expected = NaiveOps.conv2d(x, w, b, 1, 1);
                Random32.assertClose(Winograd.conv3x3(mk, blk, x, w, b, 1, 1), expected, 1e-5);
                Random32.assertClose(Winograd.conv3x3(mk, blk, x, w, b, 1L << 30, 1), expected, 1e-5);
                Random32.assertClose(Winograd.conv3x3(mk, blk, x, w, b, 1, 1L << 30), expected, 1e-5);
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
