package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;

class ConvolutionTest {
    /** {Cin, Cout, H, W, kernel, stride, padding}: odd sizes, every kernel shape the networks use. */
    private static final int[][] CASES = {
            {5, 7, 9, 11, 3, 1, 1},   // 3×3 "same"
            {5, 7, 9, 11, 1, 1, 0},   // 1×1
            {5, 7, 9, 11, 3, 2, 1},   // downsampling
            {3, 17, 13, 6, 3, 2, 0},  // stride 2 without padding
            {4, 33, 7, 40, 3, 1, 1},  // wide rows: a tile spans several output rows
            {2, 3, 5, 5, 5, 1, 2},    // a bigger kernel
            {6, 2, 8, 8, 2, 2, 0},    // even kernel
            {16, 40, 19, 21, 3, 1, 1},
            {3, 5, 6, 70, 5, 1, 2},   // rows over two panels wide: whole-panel runs clipped by up to two columns
            {4, 6, 5, 45, 3, 1, 1},   // a row ending in a part panel
    };

    @Test
    void matchesTheNaiveConvolutionForEveryShapeAndDtype() {
        Random32 r = new Random32(11);
        for (int[] cs : CASES) {
            int cin = cs[0], cout = cs[1], h = cs[2], w = cs[3], kk = cs[4], stride = cs[5], pad = cs[6];
            Tensor x = r.tensor(2, cin, h, w);
            for (DType dtype : DType.values()) {
                Weight wt = r.weight(dtype, "conv.weight", cout, cin, kk, kk);
                Weight b = r.weight(dtype, "conv.bias", cout);
                Random32.assertClose(Ops.conv2d(x, wt, b, stride, pad), NaiveOps.conv2d(x, wt, b, stride, pad), 1e-5);
            }
            Weight wt = r.weight(DType.F32, "conv.weight", cout, cin, kk, kk);
            Random32.assertClose(Ops.conv2d(x, wt, null, stride, pad), NaiveOps.conv2d(x, wt, null, stride, pad), 1e-5);
        }
    }

    /**
     * 3×3 same-size convolutions to 1–4 channels (the networks' last layers) take their own loop: rows of whole
     * strips and of a part strip, both borders, every dtype, with and without bias, several images; rows too
     * narrow for it go the GEMM's way.
     */
    @Test
    void convolutionsToFewChannelsMatchTheNaiveOne() {
        Random32 r = new Random32(15);
        // {cout, cin, h, w}: rows of whole strips and not, one row, one strip plus the two edge pixels
        int lanes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        int[][] shapes = {{1, 7, 3, 2 * lanes + 2}, {3, 4, 6, 5 * lanes + 3}, {4, 5, 9, 40 + 2 * lanes}, {2, 19, 1, 4 * lanes + 2}, {3, 2, 12, 2 * lanes + 7}};
        for (int[] s : shapes) {
            int cout = s[0], cin = s[1], h = s[2], w = s[3];
            Tensor x = r.tensor(2, cin, h, w);
            for (DType dtype : DType.values()) {
                Weight wt = r.weight(dtype, "conv_out.weight", cout, cin, 3, 3);
                Weight b = r.weight(dtype, "conv_out.bias", cout);
                org.assertj.core.api.Assertions.assertThat(Convolution.fewOutputsApplies(x, wt, 1, 1, 1, h, w)).isTrue();
                Random32.assertClose(Ops.conv2d(x, wt, b, 1, 1), NaiveOps.conv2d(x, wt, b, 1, 1), 1e-5);
                Random32.assertClose(Ops.conv2d(x, wt, null, 1, 1), NaiveOps.conv2d(x, wt, null, 1, 1), 1e-5);
            }
        }
        Tensor narrow = r.tensor(1, 3, 4, 2 * lanes + 1);
        Weight wt = r.weight(DType.F16, "conv_out.weight", 3, 3, 3, 3);
        org.assertj.core.api.Assertions.assertThat(Convolution.fewOutputsApplies(narrow, wt, 1, 1, 1, 4, 2 * lanes + 1)).isFalse();
        Random32.assertClose(Ops.conv2d(narrow, wt, null, 1, 1), NaiveOps.conv2d(narrow, wt, null, 1, 1), 1e-5);
    }

    /** Every kernel family, with blocks small enough that a block of columns starts mid-row of the output. */
    @Test
    void everyKernelFamilyAndBlockingAgrees() {
        Random32 r = new Random32(12);
        for (int bits : new int[]{512, 256, 128}) {
            MicroKernels mk = MicroKernels.forBits(bits);
            Gemm.Blocking blk = bits == 256 ? new Gemm.Blocking(20, 2 * mk.maxMr, 3 * mk.nr, mk.nr, 1000, false, 1 << 20)
                    : new Gemm.Blocking(20, 1000, 3 * mk.nr, 2 * mk.nr, 7 * 2 * mk.nr, true, 1 << 20);
            for (int[] cs : CASES) {
                int cin = cs[0], cout = cs[1], h = cs[2], w = cs[3], kk = cs[4], stride = cs[5], pad = cs[6];
                Tensor x = r.tensor(1, cin, h, w);
                Weight wt = r.weight(DType.F16, "conv.weight", cout, cin, kk, kk);
                Weight b = r.weight(DType.F32, "conv.bias", cout);
                int oh = (h + 2 * pad - kk) / stride + 1, ow = (w + 2 * pad - kk) / stride + 1;
                Random32.assertClose(Convolution.conv2d(mk, blk, x, wt, b, stride, pad, pad, oh, ow),
                        NaiveOps.conv2d(x, wt, b, stride, pad), 1e-5);
            }
        }
    }

    /** The VAE's downsampling: pad right and bottom by one, then a stride-2 convolution without padding. */
    @Test
    void asymmetricPaddingThenStridedConvolution() {
        Random32 r = new Random32(13);
        Tensor x = r.tensor(1, 6, 11, 10);
        Tensor padded = Ops.pad(x, 0, 1, 0, 1);
        org.assertj.core.api.Assertions.assertThat(padded.shape).containsExactly(1, 6, 12, 11);
        for (int c = 0; c < 6; c++) {
            for (int y = 0; y < 12; y++) {
                for (int xx = 0; xx < 11; xx++) {
                    float expected = y < 11 && xx < 10 ? x.data[(c * 11 + y) * 10 + xx] : 0f;
                    org.assertj.core.api.Assertions.assertThat(padded.data[(c * 12 + y) * 11 + xx]).isEqualTo(expected);
                }
            }
        }
        Weight wt = r.weight(DType.F16, "down.weight", 5, 6, 3, 3);
        Random32.assertClose(Ops.conv2d(padded, wt, null, 2, 0), NaiveOps.conv2d(padded, wt, null, 2, 0), 1e-5);
    }

    /** Big enough to run on several threads, split along the pixels and along the channels. */
    @Test
    void largeConvolutionsSplitOverThreads() {
        Random32 r = new Random32(14);
        int[][] shapes = {{32, 24, 40, 40}, {64, 96, 6, 6}};
        for (int[] s : shapes) {
            Tensor x = r.tensor(1, s[0], s[2], s[3]);
            Weight wt = r.weight(DType.F16, "conv.weight", s[1], s[0], 3, 3);
            Weight b = r.weight(DType.F16, "conv.bias", s[1]);
            Random32.assertClose(Ops.conv2d(x, wt, b, 1, 1), NaiveOps.conv2d(x, wt, b, 1, 1), 1e-5);
        }
    }
}
