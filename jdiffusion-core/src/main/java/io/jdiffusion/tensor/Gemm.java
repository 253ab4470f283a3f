package io.jdiffusion.tensor;

/**
 * Single-precision matrix product on the Vector API: {@code C[M,N] (+)= A[M,K]·B[K,N] (+ bias)}, BLIS style.
 *
 * <p>Loops, per thread: column blocks of NC → depth blocks of KC (B block packed into [NC/nr][KC][nr]
 * panels) → row blocks of MC (A block packed into [MC/mr][KC][mr] panels, or read in place) → register
 * tiles of mr×nr computed by a {@link MicroKernels} kernel. The operands come from {@link ASource} and
 * {@link BSource}: they do the packing, so a stored F16 weight is converted to float32 block by block and
 * a convolution's im2col columns are gathered straight into the packed layout, never whole.
 *
 * <p>The public entry points take B as {@code [N, K]} (torch's linear layout), so they compute
 * {@code A·Bᵀ}. Threads split the output along N or M, whichever duplicates less packing.
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
                new RowsAsColumnsB(b, bOff, ldb), null, bias, c, cOff, ldc, accumulate);
    }

    /**
     * C[m,n] (+)= A[m,k]·Wᵀ (+ bias[n]) with W a stored weight of n rows of k values (torch's linear layout
     * [n, k], any dtype; converted to float32 while packing).
     */
    public static void gemm(int m, int n, int k, float[] a, int aOff, int lda, Weight w,
                            float[] bias, float[] c, int cOff, int ldc, boolean accumulate) {
        if (w.numel() != (long) n * k) throw new IllegalArgumentException(w.name() + " " + w.shapeString() + " is not " + n + "x" + k);
        run(MicroKernels.PREFERRED, Blocking.DEFAULT, m, n, k, new RowMajorA(a, aOff, lda),
                new WeightRowsB(w, k), null, bias, c, cOff, ldc, accumulate);
    }

    /** Cache blocking: depth KC, rows MC, columns NC; {@code jrOuter}: sweep the A panels under one B panel. */
    record Blocking(int kc, int mc, int nc, boolean jrOuter) {
        static final Blocking DEFAULT = new Blocking(256, 960, 2048, true);
    }

    /** Rows of A in packed panels: rows [i0, i0+mc), depth [p0, p0+kc) → dst, panel q of mr rows at q·kc·mr, (i, p) at p·mr + i. */
    interface ASource {
        void pack(int i0, int mc, int p0, int kc, int mr, float[] dst, Work w);
    }

    /** Columns of B in packed panels: columns [j0, j0+nc), depth [p0, p0+kc) → dst, panel q at q·kc·nr, (p, j) at p·nr + j, zero past nc. */
    interface BSource {
        void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Work w);
    }

    /** A float32 row-major A; read in place by the kernels unless its rows alias in the L1 cache. */
    record RowMajorA(float[] a, int off, int lda) implements ASource {
        /** Row strides of a multiple of 2 KiB map every row of a tile onto the same L1 sets: pack those. */
        boolean inPlace() {
            return lda % 512 != 0;
        }

        @Override
        public void pack(int i0, int mc, int p0, int kc, int mr, float[] dst, Work w) {
            for (int i = 0; i < mc; i++) {
                int src = off + (i0 + i) * lda + p0;
                int d = (i / mr) * kc * mr + i % mr;
                for (int p = 0; p < kc; p++, d += mr) dst[d] = a[src + p];
            }
        }
    }

    /** A stored weight of M rows of K values as A (a convolution's [Cout, Cin·kh·kw]), converted while packing. */
    record WeightRowsA(Weight w, int k) implements ASource {
        @Override
        public void pack(int i0, int mc, int p0, int kc, int mr, float[] dst, Work work) {
            float[] row = work.row(kc);
            for (int i = 0; i < mc; i++) {
                w.read((long) (i0 + i) * k + p0, row, 0, kc);
                int d = (i / mr) * kc * mr + i % mr;
                for (int p = 0; p < kc; p++, d += mr) dst[d] = row[p];
            }
        }
    }

    /** B given by its columns as rows of a float32 [N, K] array (Bᵀ row-major). */
    record RowsAsColumnsB(float[] b, int off, int ldb) implements BSource {
        @Override
        public void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Work w) {
            for (int j = 0; j < nc; j++) {
                int src = off + (j0 + j) * ldb + p0;
                int d = (j / nr) * kc * nr + j % nr;
                for (int p = 0; p < kc; p++, d += nr) dst[d] = b[src + p];
            }
            zeroPadColumns(nc, kc, nr, dst);
        }
    }

    /** B given by its columns as rows of a stored weight [N, K] (torch's linear layout), converted while packing. */
    record WeightRowsB(Weight w, int k) implements BSource {
        @Override
        public void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Work work) {
            float[] row = work.row(kc);
            for (int j = 0; j < nc; j++) {
                w.read((long) (j0 + j) * k + p0, row, 0, kc);
                int d = (j / nr) * kc * nr + j % nr;
                for (int p = 0; p < kc; p++, d += nr) dst[d] = row[p];
            }
            zeroPadColumns(nc, kc, nr, dst);
        }
    }

    /** B row-major [K, N] with row stride ldb (a 1×1 convolution's input, [Cin, H·W]). */
    record RowMajorB(float[] b, int off, int ldb) implements BSource {
        @Override
        public void pack(int j0, int nc, int p0, int kc, int nr, float[] dst, Work w) {
            for (int jr = 0; jr < nc; jr += nr) {
                int nn = Math.min(nr, nc - jr);
                int d = jr * kc;
                int src = off + p0 * ldb + j0 + jr;
                for (int p = 0; p < kc; p++, d += nr, src += ldb) {
                    System.arraycopy(b, src, dst, d, nn);
                    for (int j = nn; j < nr; j++) dst[d + j] = 0f;
                }
            }
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
        float[] ap = new float[0], bp = new float[0], tile = new float[0], row = new float[0];

        float[] ap(int n) {
            if (ap.length < n) ap = new float[n];
            return ap;
        }

        float[] bp(int n) {
            if (bp.length < n) bp = new float[n];
            return bp;
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
                    float[] rowBias, float[] colBias, float[] c, int cOff, int ldc, boolean accumulate) {
        if (m <= 0 || n <= 0) return;
        if (k <= 0) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    int o = cOff + i * ldc + j;
                    float v = (accumulate ? c[o] : 0f) + (rowBias == null ? 0f : rowBias[i]) + (colBias == null ? 0f : colBias[j]);
                    c[o] = v;
                }
            }
            return;
        }
        final int mr = mk.maxMr, nr = mk.nr;
        int mPanels = (m + mr - 1) / mr, nPanels = (n + nr - 1) / nr;
        int threads = (long) m * n * k < PARALLEL_THRESHOLD ? 1 : Parallel.threads();
        // Splitting N makes every thread pack all of A (nothing when A is read in place); splitting M makes
        // every thread pack all of B: split the dimension whose other operand is cheaper to repeat.
        boolean aFree = a instanceof RowMajorA ra && ra.inPlace();
        boolean splitN = nPanels >= threads && (aFree || m <= n || mPanels < threads);
        int panels = splitN ? nPanels : mPanels;
        int parts = Math.max(1, Math.min(threads, panels));
        if (parts == 1) {
            range(mk, blk, 0, m, 0, n, k, a, b, rowBias, colBias, c, cOff, ldc, accumulate);
            return;
        }
        Parallel.forRange(parts, 1, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int from = (int) ((long) panels * p / parts), to = (int) ((long) panels * (p + 1) / parts);
                if (splitN) {
                    range(mk, blk, 0, m, from * nr, Math.min(n, to * nr), k, a, b, rowBias, colBias, c, cOff, ldc, accumulate);
                } else {
                    range(mk, blk, from * mr, Math.min(m, to * mr), 0, n, k, a, b, rowBias, colBias, c, cOff, ldc, accumulate);
                }
            }
        });
    }

    /** C[m0:m1, n0:n1] on this thread. */
    static void range(MicroKernels mk, Blocking blk, int m0, int m1, int n0, int n1, int k, ASource a, BSource b,
                      float[] rowBias, float[] colBias, float[] c, int cOff, int ldc, boolean accumulate) {
        final int mr = mk.maxMr, nr = mk.nr;
        final int kcMax = blk.kc;
        final int mcMax = Math.max(mr, blk.mc / mr * mr);
        final int ncMax = Math.max(nr, blk.nc / nr * nr);
        Work w = work();
        RowMajorA inPlace = a instanceof RowMajorA ra && ra.inPlace() ? ra : null;
        for (int jc = n0; jc < n1; jc += ncMax) {
            int nc = Math.min(ncMax, n1 - jc);
            for (int pc = 0; pc < k; pc += kcMax) {
                int kc = Math.min(kcMax, k - pc);
                float[] bp = w.bp(((nc + nr - 1) / nr) * nr * kc);
                b.pack(jc, nc, pc, kc, nr, bp, w);
                boolean acc = accumulate || pc > 0;
                boolean last = pc + kc == k;
                for (int ic = m0; ic < m1; ic += mcMax) {
                    int mc = Math.min(mcMax, m1 - ic);
                    float[] ap = null;
                    if (inPlace == null) {
                        ap = w.ap(((mc + mr - 1) / mr) * mr * kc);
                        a.pack(ic, mc, pc, kc, mr, ap, w);
                    }
                    if (blk.jrOuter) {
                        for (int jr = 0; jr < nc; jr += nr) {
                            for (int ir = 0; ir < mc; ir += mr) {
                                tile(mk, w, inPlace, ap, ic, ir, mc, jc, jr, nc, pc, kc, bp, c, cOff, ldc, acc, last, rowBias, colBias);
                            }
                        }
                    } else {
                        for (int ir = 0; ir < mc; ir += mr) {
                            for (int jr = 0; jr < nc; jr += nr) {
                                tile(mk, w, inPlace, ap, ic, ir, mc, jc, jr, nc, pc, kc, bp, c, cOff, ldc, acc, last, rowBias, colBias);
                            }
                        }
                    }
                }
            }
        }
    }

    /** One register tile: rows ic+ir.., columns jc+jr.. of C. */
    private static void tile(MicroKernels mk, Work w, RowMajorA inPlace, float[] ap, int ic, int ir, int mc,
                             int jc, int jr, int nc, int pc, int kc, float[] bp, float[] c, int cOff, int ldc,
                             boolean acc, boolean last, float[] rowBias, float[] colBias) {
        final int mr = mk.maxMr, nr = mk.nr;
        int mm = Math.min(mr, mc - ir), nn = Math.min(nr, nc - jr);
        int bo = jr * kc;
        int co = cOff + (ic + ir) * ldc + jc + jr;
        if (nn == nr) {
            if (inPlace != null) {
                mk.rows(mm, inPlace.a(), inPlace.off() + (ic + ir) * inPlace.lda() + pc, inPlace.lda(), bp, bo, kc, c, co, ldc, acc);
            } else {
                mk.packed(mm, ap, ir * kc, mr, bp, bo, kc, c, co, ldc, acc);
            }
        } else {
            // the last columns: a full-width tile into scratch, then the valid part into C
            float[] t = w.tile(mr * nr);
            if (inPlace != null) {
                mk.rows(mm, inPlace.a(), inPlace.off() + (ic + ir) * inPlace.lda() + pc, inPlace.lda(), bp, bo, kc, t, 0, nr, false);
            } else {
                mk.packed(mm, ap, ir * kc, mr, bp, bo, kc, t, 0, nr, false);
            }
            for (int i = 0; i < mm; i++) {
                int cr = co + i * ldc;
                for (int j = 0; j < nn; j++) c[cr + j] = acc ? c[cr + j] + t[i * nr + j] : t[i * nr + j];
            }
        }
        if (last && (rowBias != null || colBias != null)) {
            for (int i = 0; i < mm; i++) {
                int cr = co + i * ldc;
                float rb = rowBias == null ? 0f : rowBias[ic + ir + i];
                if (colBias == null) {
                    for (int j = 0; j < nn; j++) c[cr + j] += rb;
                } else {
                    int cb = jc + jr;
                    for (int j = 0; j < nn; j++) c[cr + j] += rb + colBias[cb + j];
                }
            }
        }
    }
}
