package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision matrix product on the Vector API: {@code C[M,N] (+)= A[M,K]·B[K,N] (+ bias)}, BLIS style.
 *
 * <p>Per thread, the depth is cut into equal blocks of at most KC, the rows into blocks of MC and the
 * columns into blocks of NC; each A block is packed as rows at the kernels' fixed row stride, each B block
 * as panels [nr columns][kc][nr], and register tiles of mr×nr are computed by the {@link MicroKernels}.
 * When a thread's rows fit one A block (a convolution: A is the weight) each A block is packed once and
 * B streams past it in small blocks; otherwise the loops are BLIS's (columns → depth → rows). The operands
 * come from {@link ASource} and {@link BSource}, which do the packing: a stored F16 weight is converted to
 * float32 block by block, a convolution's im2col columns are gathered straight into packed panels, never
 * whole. Bias is added to each tile while it is hot, after its last depth block.
 *
 * <p>The public entry points take B as {@code [N, K]} (torch's linear layout), so they compute
 * {@code A·Bᵀ}. Threads split the output along N or M, whichever makes them repeat less packing.
 */
public final class Gemm {
    private Gemm() {
    }

    /**
     * C[m,n] (+)= A[m,k]·Bᵀ (+ bias[n]): A row-major with row stride lda, B [n,k] row-major with row
     * stride ldb, C row-major with row stride ldc. bias may be null; accumulate adds to C instead of
     * overwriting it.
     */
    public static void gemm(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float[] bias, float[] c, int cOff, int ldc, boolean accumulate) {
        run(MicroKernels.PREFERRED, Blocking.DEFAULT, m, n, k, new RowMajorA(a, aOff, lda),
                new RowsAsColumnsB(b, bOff, ldb), null, bias, Out.rowMajor(c, cOff, ldc), accumulate);
    }

    /**
     * C[m,n] (+)= A[m,k]·Wᵀ (+ bias[n]) with W a stored weight of n rows of k values (torch's linear layout
     * [n, k], any dtype; converted to float32 while packing).
     */
    public static void gemm(int m, int n, int k, float[] a, int aOff, int lda, Weight w,
                            float[] bias, float[] c, int cOff, int ldc, boolean accumulate) {
        if (w.numel() != (long) n * k) throw new IllegalArgumentException(w.name() + " " + w.shapeString() + " is not " + n + "x" + k);
        run(MicroKernels.PREFERRED, Blocking.DEFAULT, m, n, k, new RowMajorA(a, aOff, lda),
                new WeightRowsB(w, k), null, bias, Out.rowMajor(c, cOff, ldc), accumulate);
    }

    /**
     * C[m,n] = W·Bᵀ (+ bias[m]) with W a stored weight [m, k] (any dtype, converted while packing) and B [n, k]
     * row-major with row stride ldb: a linear layer computed transposed, {@code Yᵀ = W·Xᵀ}, for inputs of
     * few rows (see {@link Ops#linear}).
     */
    static void weightTimes(int m, int n, int k, Weight w, float[] b, int bOff, int ldb, float[] bias, float[] c) {
        if (w.numel() != (long) m * k) throw new IllegalArgumentException(w.name() + " " + w.shapeString() + " is not " + m + "x" + k);
        run(MicroKernels.PREFERRED, Blocking.DEFAULT, m, n, k, new WeightRowsA(w, k), new RowsAsColumnsB(b, bOff, ldb),
                bias, null, Out.rowMajor(c, 0, n), false);
    }

    /**
     * Where C lies: element (i, j) at {@code c[off + i·ldc + (j / group)·groupStride + j % group]}. Plain
     * row-major C has one group; a batched convolution has one group of columns per image (its pixels), the
     * images' outputs {@code groupStride} apart.
     */
    record Out(float[] c, int off, int ldc, int group, int groupStride) {
        static Out rowMajor(float[] c, int off, int ldc) {
            return new Out(c, off, ldc, Integer.MAX_VALUE, 0);
        }

        int offset(int i, int j) {
            return off + i * ldc + (j / group) * groupStride + j % group;
        }
    }

    /**
     * Cache blocking: depth KC (at most the kernels' row stride), rows MC, columns NC. When a thread's rows
     * fit one A block the loops keep each packed A block (MC×KC, in L2) across the columns of a C block of
     * about {@code cBlock} floats (which stays in L2 over the depth blocks), taken in B blocks of only
     * {@code ncSmall} columns that stay in L2 too; otherwise they are BLIS's (columns NC → depth → rows).
     * {@code jrOuter}: sweep all A panels of a block under one B panel (else all B panels under one A panel).
     * {@code sharedA}: the most floats of a block all threads share: an A block of {@link #columnsSharingA} (every
     * further block packs the B columns again), a B block of all depth blocks in {@link #rowsSharingB} (every
     * further block packs the A rows again).
     */
    record Blocking(int kc, int mc, int nc, int ncSmall, int cBlock, boolean jrOuter, int sharedA) {
        static final Blocking DEFAULT = new Blocking(384, 960, 2048, 256, 1 << 20, false, 4 << 20);
    }

    /**
     * Rows of A for the kernels: rows [i0, i0+mc), depth [p0, p0+kc) → dst, row i at dOff + i·stride.
     * {@link #cost()}: relative work per element packed (a plain copy is 1).
     */
    interface ASource {
        void pack(int i0, int mc, int p0, int kc, float[] dst, int dOff, int stride, Work w);

        double cost();
    }

    /**
     * Columns of B in packed panels: columns [j0, j0+nc), depth [p0, p0+kc) → dst, panel q at q·kc·nr,
     * (p, j) at p·nr + j, zero past nc. {@link #cost()}: relative work per element packed.
     */
    interface BSource {
        void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Work w);

        double cost();
    }

    /** A float32 row-major A, row stride lda. */
    record RowMajorA(float[] a, int off, int lda) implements ASource {
        @Override
        public void pack(int i0, int mc, int p0, int kc, float[] dst, int dOff, int stride, Work w) {
            for (int i = 0; i < mc; i++) System.arraycopy(a, off + (i0 + i) * lda + p0, dst, dOff + i * stride, kc);
        }

        @Override
        public double cost() {
            return 1;
        }
    }

    /** A stored weight of M rows of K values as A (a convolution's [Cout, Cin·kh·kw]), converted while packing. */
    record WeightRowsA(Weight w, int k) implements ASource {
        @Override
        public void pack(int i0, int mc, int p0, int kc, float[] dst, int dOff, int stride, Work work) {
            for (int i = 0; i < mc; i++) w.read((long) (i0 + i) * k + p0, dst, dOff + i * stride, kc);
        }

        /**
         * Rows [i0, i0+mc) at every depth, in blocks of kcMax: depth block d at dst[d·blockStride], row i of it at
         * + i·stride; each row read whole, in storage order (see {@link #rowsSharingB}).
         */
        void packDepthBlocks(int i0, int mc, int kcMax, float[] dst, int blockStride, int stride) {
            for (int i = 0; i < mc; i++) {
                long row = (long) (i0 + i) * k;
                for (int p0 = 0, d = 0; p0 < k; p0 += kcMax, d++) w.read(row + p0, dst, d * blockStride + i * stride, Math.min(kcMax, k - p0));
            }
        }

        @Override
        public double cost() {
            return 2;
        }
    }

    /** B given by its columns as rows of a float32 [N, K] array (Bᵀ row-major). */
    record RowsAsColumnsB(float[] b, int off, int ldb) implements BSource {
        @Override
        public void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Work w) {
            for (int jr = 0; jr < nc; jr += nr) {
                int nn = Math.min(nr, nc - jr);
                // a panel in chunks of depth, so that the rows it writes stay in L1
                for (int pp = 0; pp < kc; pp += TRANSPOSE_CHUNK) {
                    int len = Math.min(TRANSPOSE_CHUNK, kc - pp);
                    int d = jr * kc + pp * nr;
                    for (int j = 0; j < nn; j++) {
                        int src = off + (j0 + jr + j) * ldb + p0 + pp;
                        for (int p = 0; p < len; p++) dst[d + p * nr + j] = b[src + p];
                    }
                }
            }
            zeroPadColumns(nc, kc, nr, dst);
        }

        @Override
        public double cost() {
            return 4;
        }
    }

    /** B as a float32 row-major [K, N] array, row stride ldb (a copy per panel row). */
    record RowMajorB(float[] b, int off, int ldb) implements BSource {
        @Override
        public void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Work w) {
            for (int jr = 0; jr < nc; jr += nr) {
                int nn = Math.min(nr, nc - jr);
                for (int p = 0, d = jr * kc, src = off + p0 * ldb + j0 + jr; p < kc; p++, d += nr, src += ldb) {
                    System.arraycopy(b, src, dst, d, nn);
                }
            }
            zeroPadColumns(nc, kc, nr, dst);
        }

        @Override
        public double cost() {
            return 1;
        }
    }

    /** Depth of the chunks in which B panels are transposed (a chunk of a panel: 64 rows of 128 bytes). */
    private static final int TRANSPOSE_CHUNK = 64;

    /**
     * B given by its columns as rows of a stored weight [N, K] (torch's linear layout), converted while packing:
     * each column's whole depth block at once (a conversion call has a fixed cost, its bulk copy and its vector
     * loop's pre- and post-loops, so runs of 64 cost several times more per value than runs of hundreds), then
     * transposed into the panel.
     */
    record WeightRowsB(Weight w, int k) implements BSource {
        @Override
        public void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Work work) {
            float[] rows = work.row(nr * kc);
            for (int jr = 0; jr < nc; jr += nr) {
                int nn = Math.min(nr, nc - jr);
                for (int j = 0; j < nn; j++) w.read((long) (j0 + jr + j) * k + p0, rows, j * kc, kc);
                int d = jr * kc;
                int p = 0;
                if (Transpose16.FITS && nn % Transpose16.N == 0 && nr % Transpose16.N == 0) {
                    for (; p + Transpose16.N <= kc; p += Transpose16.N) {
                        for (int j = 0; j < nn; j += Transpose16.N) {
                            Transpose16.block(rows, j * kc + p, kc, dst, d + p * nr + j, nr);
                        }
                    }
                }
                for (; p < kc; p++) {
                    for (int j = 0; j < nn; j++) dst[d + p * nr + j] = rows[j * kc + p];
                }
            }
            zeroPadColumns(nc, kc, nr, dst);
        }

        @Override
        public double cost() {
            return 6;
        }
    }

    /** Zeroes the columns of the last panel past nc, so that padded lanes compute finite garbage-free values. */
    static void zeroPadColumns(int nc, int kc, int nr, float[] dst) {
        int nn = nc % nr;
        if (nn == 0) return;
        int d = (nc - nn) * kc;
        for (int p = 0; p < kc; p++, d += nr) {
            for (int j = nn; j < nr; j++) dst[d + j] = 0f;
        }
    }

    /** Per-thread packing buffers, grown on demand and kept (no allocation per call). */
    static final class Work {
        float[] ap = new float[0], bp = new float[0], tile = new float[0], row = new float[0], shared = new float[0];
        int[] ints = new int[0];

        /** Integer scratch of a B source (a convolution's runs and taps). */
        int[] ints(int n) {
            if (ints.length < n) ints = new int[n];
            return ints;
        }

        float[] ap(int n) {
            if (ap.length < n) ap = new float[n];
            return ap;
        }

        float[] bp(int n) {
            if (bp.length < n) bp = new float[n];
            return bp;
        }

        /**
         * A block all threads read: B of {@link #rowsSharingB}, A of {@link #columnsSharingA}; the calling
         * thread's, as the one that started the product.
         */
        float[] shared(int n) {
            if (shared.length < n) shared = new float[n];
            return shared;
        }

        float[] tile(int n) {
            if (tile.length < n) tile = new float[n];
            return tile;
        }

        float[] row(int n) {
            if (row.length < n) row = new float[n];
            return row;
        }
    }

    private static final ThreadLocal<Work> WORK = ThreadLocal.withInitial(Work::new);

    static Work work() {
        return WORK.get();
    }

    /** Below this many multiply-adds a product runs on the calling thread. */
    private static final long PARALLEL_THRESHOLD = 1L << 18;

    /**
     * The driver: C[m,n] (+)= A·B (+ rowBias[i]) (+ colBias[j]), split over the shared pool.
     */
    static void run(MicroKernels mk, Blocking blk, int m, int n, int k, ASource a, BSource b,
                    float[] rowBias, float[] colBias, Out out, boolean accumulate) {
        if (m <= 0 || n <= 0) return;
        if (k <= 0) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    int o = out.offset(i, j);
                    out.c[o] = (accumulate ? out.c[o] : 0f) + (rowBias == null ? 0f : rowBias[i]) + (colBias == null ? 0f : colBias[j]);
                }
            }
            return;
        }
        if (blk.kc > mk.rowStride) throw new IllegalArgumentException("depth block " + blk.kc + " over the kernels' row stride " + mk.rowStride);
        final int mr = tileHeight(mk, m), nr = mk.nr;
        int mPanels = (m + mr - 1) / mr, nPanels = (n + nr - 1) / nr;
        int threads = (long) m * n * k < PARALLEL_THRESHOLD ? 1 : Parallel.threads();
        // Splitting N makes every thread pack all of A, splitting M all of B: split the way that repeats less work.
        boolean splitN = nPanels >= threads && (mPanels < threads || a.cost() * m <= b.cost() * n);
        int panels = splitN ? nPanels : mPanels;
        int parts = Math.max(1, Math.min(threads, panels));
        if (parts == 1) {
            range(mk, blk, mr, 0, m, 0, n, k, a, b, rowBias, colBias, out, accumulate);
            return;
        }
        if (!Variants.gemmShared) {
            // for comparisons (Variants): a fixed part per thread, each packing its own copy of the other operand
            Parallel.forRange(parts, 1, (p0, p1) -> {
                for (int p = p0; p < p1; p++) {
                    int from = (int) ((long) panels * p / parts), to = (int) ((long) panels * (p + 1) / parts);
                    if (splitN) {
                        range(mk, blk, mr, 0, m, from * nr, Math.min(n, to * nr), k, a, b, rowBias, colBias, out, accumulate);
                    } else {
                        range(mk, blk, mr, from * mr, Math.min(m, to * mr), 0, n, k, a, b, rowBias, colBias, out, accumulate);
                    }
                }
            });
        } else if (splitN) {
            columnsSharingA(mk, blk, mr, m, n, k, a, b, rowBias, colBias, out, accumulate);
        } else {
            rowsSharingB(mk, blk, mr, m, n, k, a, b, rowBias, colBias, out, accumulate);
        }
    }

    /**
     * The depth of the blocks k is cut into: equal blocks of at most blk.kc (a thin last block would cost a whole
     * extra pass over C for little work).
     */
    private static int depthBlock(int k, Blocking blk) {
        int blocks = (k + blk.kc - 1) / blk.kc;
        return (k + blocks - 1) / blocks;
    }

    /** Row tiles per chunk of {@link #rowsSharingB} at least: a chunk's kernels should outweigh taking it. */
    private static final int MIN_CHUNK_TILES = 4;
    /** Column panels per chunk of {@link #columnsSharingA} at least. */
    private static final int MIN_CHUNK_PANELS = 2;

    /**
     * The product split by rows, balanced as it runs: per block of columns, all threads pack the B block of every
     * depth block together into one shared buffer, then take chunks of rows (several per thread) as they come
     * free, each packing its own A rows and running through all depth blocks for them. On a machine whose cores
     * run at uneven speed (a virtual machine sharing its cores with other guests: one core at half speed for
     * seconds at a time is common) a fixed half of the rows per thread makes the fast core wait for the slow one;
     * and B is converted once, not once per thread.
     *
     * <p>The depth blocks inside a chunk, not around the whole product: a product of large depth and few columns
     * (a convolution at 8×8 or 4×4, K = 11520 in 30 blocks) then hands work to the threads twice, not twice per
     * depth block, and a chunk's C stays in cache across its depth blocks: 0.93–0.98 of the time on those
     * convolutions and on 128-row linear layers (alternating in one process, median of 9). The columns of a block
     * are as many as keep its B (all depth) within {@code blk.sharedA} floats.
     *
     * <p>A stored weight as A ({@link WeightRowsA}) is packed one row panel at a time, all its depth blocks
     * at once: each weight row read in storage order rather than in runs of kc values at a stride of K, and the
     * panel's few hundred KiB stay in L2 for its kernels. On the 4² convolutions (1280 rows of 11520) 0.8 of the
     * time, the 8² ones 0.98 (KernelBench, 2 threads, docs/PERFORMANCE.md).
     */
    private static void rowsSharingB(MicroKernels mk, Blocking blk, int mr, int m, int n, int k, ASource a, BSource b,
                                     float[] rowBias, float[] colBias, Out out, boolean accumulate) {
        final int nr = mk.nr;
        final int kcMax = depthBlock(k, blk), depthBlocks = (k + kcMax - 1) / kcMax;
        final int mcMax = Math.max(mr, blk.mc / mr * mr);
        final int ncMax = Math.max(nr, Math.min(blk.nc, blk.sharedA / k) / nr * nr);
        final int rowTiles = (m + mr - 1) / mr;
        Work caller = work();
        for (int jc = 0; jc < n; jc += ncMax) {
            final int jcc = jc, nc = Math.min(ncMax, n - jc), panels = (nc + nr - 1) / nr, blockStride = panels * nr * kcMax;
            float[] bp = caller.shared(depthBlocks * blockStride);
            // the B blocks, one depth block per task, each packed into the packer's own buffer and copied in
            Parallel.forRange(depthBlocks, 1, (d0, d1) -> {
                Work w = work();
                for (int d = d0; d < d1; d++) {
                    int pc = d * kcMax, kc = Math.min(kcMax, k - pc);
                    float[] own = packB(mk, w, b, jcc, nc, pc, kc);
                    System.arraycopy(own, 0, bp, d * blockStride, panels * nr * kc);
                }
            });
            Parallel.forRange(rowTiles, MIN_CHUNK_TILES, (t0, t1) -> {
                Work w = work();
                int rowsEnd = Math.min(m, t1 * mr);
                if (a instanceof WeightRowsA weight && depthBlocks > 1) {
                    weightRowPanels(mk, blk, mr, w, weight, t0 * mr, rowsEnd, k, kcMax, bp, blockStride, jcc, nc, out, accumulate, rowBias, colBias);
                    return;
                }
                for (int ic = t0 * mr; ic < rowsEnd; ic += mcMax) {
                    int mc = Math.min(mcMax, rowsEnd - ic);
                    for (int d = 0; d < depthBlocks; d++) {
                        int pc = d * kcMax, kc = Math.min(kcMax, k - pc);
                        float[] ap = packA(mk, w, a, mr, ic, mc, pc, kc);
                        macro(mk, blk, mr, w, ap, 0, ic, mc, bp, d * blockStride, jcc, nc, pc, kc, k, out, accumulate, rowBias, colBias);
                    }
                }
            });
        }
    }

    /**
     * Rows [i0, i1) of {@link #rowsSharingB}'s product for a stored weight as A (a convolution at 8² or 4²: K = 11520):
     * one row panel at a time, each row converted whole, in storage order, then every depth block of the panel
     * multiplied by the shared B blocks (depth block d at bp[d·blockStride]).
     */
    private static void weightRowPanels(MicroKernels mk, Blocking blk, int mr, Work w, WeightRowsA weight, int i0, int i1, int k, int kcMax,
                                        float[] bp, int blockStride, int jc, int nc, Out out, boolean accumulate, float[] rowBias, float[] colBias) {
        int depthBlocks = (k + kcMax - 1) / kcMax, stride = mk.rowStride, panelStride = mr * stride;
        float[] ap = w.ap(depthBlocks * panelStride);
        for (int ic = i0; ic < i1; ic += mr) {
            int mm = Math.min(mr, i1 - ic);
            // the rows past mm of a ragged last panel are computed and thrown away: zeros, not stale values
            if (mm < mr) java.util.Arrays.fill(ap, 0, depthBlocks * panelStride, 0f);
            weight.packDepthBlocks(ic, mm, kcMax, ap, panelStride, stride);
            for (int d = 0; d < depthBlocks; d++) {
                int pc = d * kcMax, kc = Math.min(kcMax, k - pc);
                macro(mk, blk, mr, w, ap, d * panelStride, ic, mm, bp, d * blockStride, jc, nc, pc, kc, k, out, accumulate, rowBias, colBias);
            }
        }
    }

    /**
     * The product split by columns, balanced as it runs: per block of rows and depth, all threads pack the A
     * block together into one shared buffer, then take chunks of column panels as they come free, each packing
     * its own B in small blocks. The counterpart of {@link #rowsSharingB}.
     */
    private static void columnsSharingA(MicroKernels mk, Blocking blk, int mr, int m, int n, int k, ASource a, BSource b,
                                        float[] rowBias, float[] colBias, Out out, boolean accumulate) {
        final int nr = mk.nr, stride = mk.rowStride;
        final int kcMax = depthBlock(k, blk);
        final int mcMax = Math.max(mr, blk.sharedA / stride / mr * mr);
        final int ncMax = Math.max(nr, blk.ncSmall / nr * nr);
        final int colPanels = (n + nr - 1) / nr;
        Work caller = work();
        for (int ic = 0; ic < m; ic += mcMax) {
            final int icc = ic, mc = Math.min(mcMax, m - ic), rowPanels = (mc + mr - 1) / mr;
            for (int pc = 0; pc < k; pc += kcMax) {
                final int pcc = pc, kc = Math.min(kcMax, k - pc);
                float[] ap = caller.shared(rowPanels * mr * stride);
                // the A block, its row panels packed by whoever is free, straight into the shared buffer
                Parallel.forRange(rowPanels, 4, (r0, r1) -> {
                    int rows = Math.min(mc, r1 * mr) - r0 * mr;
                    a.pack(icc + r0 * mr, rows, pcc, kc, ap, r0 * mr * stride, stride, work());
                    for (int i = r0 * mr + rows; i < r1 * mr; i++) java.util.Arrays.fill(ap, i * stride, i * stride + kc, 0f);
                });
                Parallel.forRange(colPanels, MIN_CHUNK_PANELS, (q0, q1) -> {
                    Work w = work();
                    int colsEnd = Math.min(n, q1 * nr);
                    for (int jc = q0 * nr; jc < colsEnd; jc += ncMax) {
                        int nc = Math.min(ncMax, colsEnd - jc);
                        float[] bp = packB(mk, w, b, jc, nc, pcc, kc);
                        macro(mk, blk, mr, w, ap, icc, mc, bp, jc, nc, pcc, kc, k, out, accumulate, rowBias, colBias);
                    }
                });
            }
        }
    }

    /**
     * The rows of a product's register tiles: as few tiles as maxMr allows, their height as even as the count
     * allows (128 rows as 10 tiles of 13, not 9 of 14 and a 14-row tile computed for its 2 rows: the VAE's
     * 128-channel convolutions); a convolution to 3 or 4 channels takes one tile of 3 or 4.
     */
    static int tileHeight(MicroKernels mk, int m) {
        int rowTiles = (m + mk.maxMr - 1) / mk.maxMr;
        return (m + rowTiles - 1) / rowTiles;
    }

    /**
     * C[m,n] = A·B on the calling thread alone: for callers that run many independent products in parallel
     * (the 16 of a Winograd convolution).
     */
    static void runSerial(MicroKernels mk, Blocking blk, int m, int n, int k, ASource a, BSource b, Out out) {
        if (m <= 0 || n <= 0) return;
        if (k <= 0 || blk.kc > mk.rowStride) throw new IllegalArgumentException("depth " + k + ", block " + blk.kc);
        range(mk, blk, tileHeight(mk, m), 0, m, 0, n, k, a, b, null, null, out, false);
    }

    /** C[m0:m1, n0:n1] on this thread, in tiles of mr rows. */
    static void range(MicroKernels mk, Blocking blk, int mr, int m0, int m1, int n0, int n1, int k, ASource a, BSource b,
                      float[] rowBias, float[] colBias, Out out, boolean accumulate) {
        final int nr = mk.nr;
        final int kcMax = depthBlock(k, blk);
        final int mcMax = Math.max(mr, blk.mc / mr * mr);
        Work w = work();
        if (m1 - m0 <= mcMax) {
            // every A block packed once per C block and kept while small B blocks stream past it
            final int ncMax = Math.max(nr, blk.ncSmall / nr * nr);
            final int ncBig = Math.max(ncMax, blk.cBlock / (m1 - m0) / ncMax * ncMax);
            for (int jb = n0; jb < n1; jb += ncBig) {
                int jbEnd = Math.min(n1, jb + ncBig);
                for (int pc = 0; pc < k; pc += kcMax) {
                    int kc = Math.min(kcMax, k - pc);
                    float[] ap = packA(mk, w, a, mr, m0, m1 - m0, pc, kc);
                    for (int jc = jb; jc < jbEnd; jc += ncMax) {
                        int nc = Math.min(ncMax, jbEnd - jc);
                        float[] bp = packB(mk, w, b, jc, nc, pc, kc);
                        macro(mk, blk, mr, w, ap, m0, m1 - m0, bp, jc, nc, pc, kc, k, out, accumulate, rowBias, colBias);
                    }
                }
            }
        } else {
            final int ncMax = Math.max(nr, blk.nc / nr * nr);
            for (int jc = n0; jc < n1; jc += ncMax) {
                int nc = Math.min(ncMax, n1 - jc);
                for (int pc = 0; pc < k; pc += kcMax) {
                    int kc = Math.min(kcMax, k - pc);
                    float[] bp = packB(mk, w, b, jc, nc, pc, kc);
                    for (int ic = m0; ic < m1; ic += mcMax) {
                        int mc = Math.min(mcMax, m1 - ic);
                        float[] ap = packA(mk, w, a, mr, ic, mc, pc, kc);
                        macro(mk, blk, mr, w, ap, ic, mc, bp, jc, nc, pc, kc, k, out, accumulate, rowBias, colBias);
                    }
                }
            }
        }
    }

    private static float[] packA(MicroKernels mk, Work w, ASource a, int mr, int ic, int mc, int pc, int kc) {
        int stride = mk.rowStride;
        int rowsPadded = (mc + mr - 1) / mr * mr;
        float[] ap = w.ap(rowsPadded * stride);
        a.pack(ic, mc, pc, kc, ap, 0, stride, w);
        // the rows past mc of a ragged last panel are computed and thrown away: zeros, not stale values
        for (int i = mc; i < rowsPadded; i++) java.util.Arrays.fill(ap, i * stride, i * stride + kc, 0f);
        return ap;
    }

    private static float[] packB(MicroKernels mk, Work w, BSource b, int jc, int nc, int pc, int kc) {
        int nr = mk.nr;
        float[] bp = w.bp(((nc + nr - 1) / nr) * nr * kc);
        b.pack(jc, nc, pc, kc, nr, bp, w);
        return bp;
    }

    /** C[ic.., jc..] (+)= the packed A block (mc rows) times the packed B block (nc columns), depth block at pc. */
    private static void macro(MicroKernels mk, Blocking blk, int mr, Work w, float[] ap, int ic, int mc, float[] bp, int jc, int nc,
                              int pc, int kc, int k, Out out, boolean accumulate, float[] rowBias, float[] colBias) {
        macro(mk, blk, mr, w, ap, 0, ic, mc, bp, 0, jc, nc, pc, kc, k, out, accumulate, rowBias, colBias);
    }

    /** The same with the packed A block at ap[aOff ..] and the packed B block at bp[bOff ..]. */
    private static void macro(MicroKernels mk, Blocking blk, int mr, Work w, float[] ap, int aOff, int ic, int mc, float[] bp, int bOff, int jc, int nc,
                              int pc, int kc, int k, Out out, boolean accumulate, float[] rowBias, float[] colBias) {
        final int nr = mk.nr;
        boolean acc = accumulate || pc > 0;
        boolean last = pc + kc == k;
        if (blk.jrOuter) {
            for (int jr = 0; jr < nc; jr += nr) {
                for (int ir = 0; ir < mc; ir += mr) {
                    tile(mk, mr, w, ap, aOff, ic, ir, mc, jc, jr, nc, kc, bp, bOff, out, acc, last, rowBias, colBias);
                }
            }
        } else {
            for (int ir = 0; ir < mc; ir += mr) {
                for (int jr = 0; jr < nc; jr += nr) {
                    tile(mk, mr, w, ap, aOff, ic, ir, mc, jc, jr, nc, kc, bp, bOff, out, acc, last, rowBias, colBias);
                }
            }
        }
    }

    /**
     * One register tile: rows ic+ir.., columns jc+jr.. of C. Always the same kernel within a product (mr rows,
     * chosen in {@link #run}): a ragged tile at the bottom or right edge is computed whole into scratch and its
     * valid part copied. (Every kernel height is compiled by the warm-up: a rarely called Vector API method runs
     * in the interpreter or C1, some 50× slower, long before C2 compiles it.)
     */
    private static void tile(MicroKernels mk, int mr, Work w, float[] ap, int aOff, int ic, int ir, int mc, int jc, int jr, int nc, int kc,
                             float[] bp, int bOff, Out out, boolean acc, boolean last, float[] rowBias, float[] colBias) {
        final int nr = mk.nr;
        int mm = Math.min(mr, mc - ir), nn = Math.min(nr, nc - jr);
        int ao = aOff + ir * mk.rowStride, bo = bOff + jr * kc;
        int i0 = ic + ir, j0 = jc + jr;
        float[] c = out.c;
        int ldc = out.ldc;
        boolean oneGroup = j0 / out.group == (j0 + nn - 1) / out.group;
        if (nn == nr && mm == mr && oneGroup) {
            int co = out.offset(i0, j0);
            mk.rowPanel(mr, ap, ao, bp, bo, kc, c, co, ldc, acc);
            if (last && (rowBias != null || colBias != null)) addBias(mk, c, co, ldc, mr, rowBias, i0, colBias, j0);
        } else {
            float[] t = w.tile(mr * nr);
            mk.rowPanel(mr, ap, ao, bp, bo, kc, t, 0, nr, false);
            if (last && (rowBias != null || colBias != null)) addBias(mk, t, 0, nr, mm, rowBias, i0, colBias, j0);
            for (int j = 0; j < nn; ) {
                // a run of columns within one group is contiguous in C
                int run = Math.min(nn - j, out.group - (j0 + j) % out.group);
                int co = out.offset(i0, j0 + j);
                for (int i = 0; i < mm; i++) {
                    int cr = co + i * ldc, tr = i * nr + j;
                    for (int q = 0; q < run; q++) c[cr + q] = acc ? c[cr + q] + t[tr + q] : t[tr + q];
                }
                j += run;
            }
        }
    }

    /** Vector species for the bias; a compile-time constant, as the Vector API needs to be fast. */
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** Adds rowBias[i0 + i] and colBias[j0 + j] to a full-width tile of rows rows at c[co + i·ldc + j]. */
    private static void addBias(MicroKernels mk, float[] c, int co, int ldc, int rows, float[] rowBias, int i0, float[] colBias, int j0) {
        int lanes = S.length();
        if (mk.nr % lanes != 0) { // a kernel family narrower than the preferred vectors (tests)
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < mk.nr; j++) {
                    c[co + i * ldc + j] += (rowBias == null ? 0f : rowBias[i0 + i]) + (colBias == null || j0 + j >= colBias.length ? 0f : colBias[j0 + j]);
                }
            }
            return;
        }
        for (int v = 0; v < mk.nr; v += lanes) {
            // colBias may end within this tile: read it masked
            FloatVector cb = colBias == null ? FloatVector.zero(S)
                    : FloatVector.fromArray(S, colBias, j0 + v, S.indexInRange(j0 + v, colBias.length));
            for (int i = 0; i < rows; i++) {
                FloatVector add = rowBias == null ? cb : cb.add(rowBias[i0 + i]);
                int o = co + i * ldc + v;
                FloatVector.fromArray(S, c, o).add(add).intoArray(c, o);
            }
        }
    }
}
