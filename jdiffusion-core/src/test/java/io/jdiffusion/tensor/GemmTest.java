package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

class GemmTest {
    /** Sizes that are not multiples of any vector width or tile, and a few degenerate ones. */
    private static final int[][] SIZES = {{37, 131, 70}, {1, 5, 3}, {14, 32, 32}, {2, 320, 77}, {100, 64, 33}, {29, 600, 97}, {150, 70, 260}, {260, 50, 40}};

    /** C = A·Bᵀ (+ bias) in double, B [n][k]. */
    private static float[] reference(int m, int n, int k, float[] a, float[] bt, float[] bias, float[] c0) {
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = c0 == null ? 0 : c0[i * n + j];
                for (int p = 0; p < k; p++) s += (double) a[i * k + p] * bt[j * k + p];
                c[i * n + j] = (float) (s + (bias == null ? 0 : bias[j]));
            }
        }
        return c;
    }

    @Test
    void floatTimesTransposedFloatMatchesTheDoubleLoop() {
        Random32 r = new Random32(1);
        for (int[] s : SIZES) {
            int m = s[0], k = s[1], n = s[2];
            float[] a = r.floats(m * k), b = r.floats(n * k), bias = r.floats(n);
            float[] c = new float[m * n];
            Arrays.fill(c, Float.NaN); // must be overwritten, never read
            Gemm.gemm(m, n, k, a, 0, k, b, 0, k, bias, c, 0, n, false);
            Random32.assertClose(c, reference(m, n, k, a, b, bias, null), 1e-6);
        }
    }

    @Test
    void storedWeightsOfEveryDtypeAreConvertedWhilePacking() {
        Random32 r = new Random32(2);
        int m = 37, k = 131, n = 70;
        float[] a = r.floats(m * k);
        for (DType dtype : DType.values()) {
            Weight w = r.weight(dtype, "w", n, k);
            float[] c = new float[m * n];
            Gemm.gemm(m, n, k, a, 0, k, w, null, c, 0, n, false);
            Random32.assertClose(c, reference(m, n, k, a, w.toFloats(), null, null), 1e-6);
        }
    }

    /**
     * Products split between threads, both ways (by rows: B packed once for all; by columns: A packed once),
     * with blocks small enough that every block loop runs several times, a thread count that does not divide
     * the chunks, bias on both sides and accumulation into C; and the same with a fixed part per thread
     * (the variant kept for comparisons).
     */
    @Test
    void productsSplitBetweenThreadsShareTheirPackedBlocks() {
        int threads = Parallel.threads();
        boolean shared = Variants.gemmShared;
        try {
            Parallel.setThreads(3);
            for (boolean sharing : new boolean[]{true, false}) {
                Variants.gemmShared = sharing;
                splitProductsAgree(new Random32(6));
            }
        } finally {
            Parallel.setThreads(threads);
            Variants.gemmShared = shared;
        }
    }

    private static void splitProductsAgree(Random32 r) {
        MicroKernels mk = MicroKernels.PREFERRED;
        Gemm.Blocking blk = new Gemm.Blocking(40, 4 * mk.maxMr, 3 * mk.nr, 2 * mk.nr, 1000, false, 5 * mk.maxMr * mk.rowStride);
        // {m, k, n}: more rows than columns (split by rows; the second in two column blocks, B of all 7 depth
        // blocks being over sharedA), then more columns than rows (split by columns)
        for (int[] s : new int[][]{{301, 131, 45}, {401, 250, 97}, {40, 97, 333}, {67, 250, 290}}) {
            int m = s[0], k = s[1], n = s[2];
            float[] a = r.floats(m * k), b = r.floats(n * k), rowBias = r.floats(m), colBias = r.floats(n), c0 = r.floats(m * n);
            float[] expected = reference(m, n, k, a, b, colBias, c0);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) expected[i * n + j] += rowBias[i];
            float[] c = c0.clone();
            Gemm.run(mk, blk, m, n, k, new Gemm.RowMajorA(a, 0, k), new Gemm.RowsAsColumnsB(b, 0, k),
                    rowBias, colBias, Gemm.Out.rowMajor(c, 0, n), true);
            Random32.assertClose(c, expected, 1e-6);
        }
        // a stored weight as A, split by rows: packed a row panel at a time over all its depth blocks (7 of 40 and
        // 250 = 6·40 + 10; 301 rows end in a ragged panel), as the direct convolutions at 8² and 4² are
        for (int[] s : new int[][]{{301, 250, 45}, {130, 97, 20}}) {
            int m = s[0], k = s[1], n = s[2];
            Weight wa = r.weight(DType.F16, "a", m, k);
            float[] b = r.floats(n * k), rowBias = r.floats(m), c0 = r.floats(m * n);
            float[] expected = reference(m, n, k, wa.toFloats(), b, null, c0);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) expected[i * n + j] += rowBias[i];
            float[] c = c0.clone();
            Gemm.run(mk, blk, m, n, k, new Gemm.WeightRowsA(wa, k), new Gemm.RowsAsColumnsB(b, 0, k),
                    rowBias, null, Gemm.Out.rowMajor(c, 0, n), true);
            Random32.assertClose(c, expected, 1e-6);
        }
    }

    /** Few rows against a wide stored weight: bias, accumulation, strides and offsets. */
    @Test
    void fewRowsTimesAStoredWeight() {
        Random32 r = new Random32(5);
        int[][] sizes = {{1, 45, 77}, {3, 131, 70}, {17, 40, 200}, {29, 400, 130}};
        for (int[] s : sizes) {
            int m = s[0], k = s[1], n = s[2], lda = k + 3, ldc = n + 5;
            float[] a = r.floats(2 + m * lda), bias = r.floats(n);
            Weight w = r.weight(DType.F16, "w", n, k);
            float[] c = r.floats(4 + m * ldc), before = c.clone();
            Gemm.gemm(m, n, k, a, 2, lda, w, bias, c, 4, ldc, true);
            float[] ap = new float[m * k], c0 = new float[m * n], actual = new float[m * n];
            for (int i = 0; i < m; i++) {
                System.arraycopy(a, 2 + i * lda, ap, i * k, k);
                System.arraycopy(before, 4 + i * ldc, c0, i * n, n);
                System.arraycopy(c, 4 + i * ldc, actual, i * n, n);
                // the gaps between C's rows are left alone
                for (int j = n; j < ldc && 4 + i * ldc + j < c.length; j++) assertThat(c[4 + i * ldc + j]).isEqualTo(before[4 + i * ldc + j]);
            }
            Random32.assertClose(actual, reference(m, n, k, ap, w.toFloats(), bias, c0), 1e-6);
        }
    }

    @Test
    void accumulatesIntoCAndHonoursStridesAndOffsets() {
        Random32 r = new Random32(3);
        int m = 23, k = 45, n = 50, lda = 51, ldb = 47, ldc = 61;
        float[] a = r.floats(3 + m * lda), b = r.floats(5 + n * ldb), c = r.floats(7 + m * ldc);
        float[] before = c.clone();
        Gemm.gemm(m, n, k, a, 3, lda, b, 5, ldb, null, c, 7, ldc, true);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = before[7 + i * ldc + j];
                for (int p = 0; p < k; p++) s += (double) a[3 + i * lda + p] * b[5 + j * ldb + p];
                assertThat((double) c[7 + i * ldc + j]).isCloseTo(s, org.assertj.core.data.Offset.offset(1e-4));
            }
            // what lies between the rows of C is not touched
            for (int j = n; j < ldc && 7 + i * ldc + j < c.length; j++) assertThat(c[7 + i * ldc + j]).isEqualTo(before[7 + i * ldc + j]);
        }
    }

    /**
     * Every kernel family (whatever this CPU prefers) and every loop order, with small blocks so that every
     * edge of every loop runs: partial blocks in K, M and N, ragged tiles, strided rows of A.
     */
    @Test
    void everyKernelFamilyAndBlockingAgrees() {
        Random32 r = new Random32(4);
        for (int bits : new int[]{512, 256, 128}) {
            MicroKernels mk = MicroKernels.forBits(bits);
            // rows in several A blocks (BLIS's loop order) or in one (A kept, small B blocks), both sweep orders
            for (Gemm.Blocking blk : new Gemm.Blocking[]{
                    new Gemm.Blocking(48, 3 * mk.maxMr, 2 * mk.nr, mk.nr, 1000, true, 1 << 20),
                    new Gemm.Blocking(48, 3 * mk.maxMr, 2 * mk.nr, mk.nr, 1000, false, 8 * mk.rowStride),
                    new Gemm.Blocking(48, 1000, 2 * mk.nr, 3 * mk.nr, 20 * 3 * mk.nr, true, 1 << 20)}) {
                for (int[] s : SIZES) {
                    int m = s[0], k = s[1], n = s[2];
                    float[] a = r.floats(m * k), b = r.floats(n * k), rowBias = r.floats(m), colBias = r.floats(n);
                    float[] expected = reference(m, n, k, a, b, colBias, null);
                    for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) expected[i * n + j] += rowBias[i];
                    for (int lda : new int[]{k, 512}) {
                        if (lda < k) continue;
                        float[] aStrided = new float[m * lda];
                        for (int i = 0; i < m; i++) System.arraycopy(a, i * k, aStrided, i * lda, k);
                        float[] c = new float[m * n];
                        Gemm.run(mk, blk, m, n, k, new Gemm.RowMajorA(aStrided, 0, lda), new Gemm.RowsAsColumnsB(b, 0, k),
                                rowBias, colBias, Gemm.Out.rowMajor(c, 0, n), false);
                        Random32.assertClose(c, expected, 1e-6);
                    }
                }
            }
        }
    }
}
