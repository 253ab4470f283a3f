package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Multi-head attention with an online softmax over key tiles (flash-attention style): the Tq×Tk score
 * matrix never exists, only one tile of it per task.
 *
 * <p>A task is one (batch, head, tile of queries). It works on transposed tiles so that the queries lie
 * along the vector lanes: {@code Sᵀ[key, query] = K·(scale·Q)ᵀ} takes the head's keys as the kernels' A and
 * the query tile, packed once per task, as B; the softmax statistics (running max and sum per query) are then
 * plain lane-wise vector operations down the key rows; and {@code Oᵀ[d, query] += Vᵀ·Pᵀ} takes the head's
 * values as A with Pᵀ already in the packed panel layout the kernels take as B. Keys and values are gathered
 * once per call into "k-major" panels of the kernel's height (a depth step's rows are consecutive floats,
 * the panel's depth steps follow each other): one stream per tile, at a stride the kernels know as a constant.
 */
final class Attention {
    private Attention() {
    }

    /** Queries per task and keys per tile (rounded to whole kernel tiles). */
    record Tiles(int queries, int keys) {
        static final Tiles DEFAULT = new Tiles(64, 256);
    }

    /** Scratch of one thread: packed queries, the score tile, the output accumulator and the softmax statistics. */
    private static final class Work {
        float[] q = new float[0], s = new float[0], o = new float[0], max = new float[0], sum = new float[0];
        /** Per query of the tile being updated: the exponent's reference (the new max, 0 while it is −∞) and the
         * factor 2^(old max − ref) that rescales what was summed so far. */
        float[] ref = new float[0], alpha = new float[0];

        void ensure(int qLen, int sLen, int oLen, int cols) {
            if (q.length < qLen) q = new float[qLen];
            if (s.length < sLen) s = new float[sLen];
            if (o.length < oLen) o = new float[oLen];
            if (max.length < cols) {
                max = new float[cols];
                sum = new float[cols];
                ref = new float[cols];
                alpha = new float[cols];
            }
        }
    }

    private static final ThreadLocal<Work> WORK = ThreadLocal.withInitial(Work::new);

    /** Per calling thread: the heads' keys and values gathered into panels, reused from call to call. */
    private static final ThreadLocal<float[][]> HEADS = ThreadLocal.withInitial(() -> new float[][]{new float[0], new float[0]});

    /** q [B, Tq, C], k and v [B, Tk, C], C split into heads; scale 1/sqrt(C/heads); causal: query i sees keys ≤ i. */
    static Tensor attention(MicroKernels mk, Tiles tiles, Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        int batch = q.dim(0), tq = q.dim(1), c = q.dim(2), tk = k.dim(1);
        if (k.dim(0) != batch || v.dim(0) != batch || k.dim(2) != c || v.dim(2) != c || v.dim(1) != tk || c % heads != 0) {
            throw new IllegalArgumentException("attention of q " + q + ", k " + k + ", v " + v + " with " + heads + " heads");
        }
        int hd = c / heads;
        // the scores in base-2 units: softmax(x) = 2^(x·log2 e − max) / Σ, and 2^ is cheaper than exp
        float scale = (float) (1.0 / Math.sqrt(hd) / Math.log(2));
        int nr = mk.nr, mr = mk.maxMr;
        int bq = Math.max(nr, tiles.queries() / nr * nr);
        int bk = Math.max(mr, tiles.keys() / mr * mr);
        int qTiles = (tq + bq - 1) / bq;
        float[] out = Workspace.floats(batch * tq * c);
        long flops = 4L * batch * tq * tk * c;
        boolean parallel = flops >= (1L << 20);

        // per (batch, head): the keys in panels of mr keys [key / mr][d][key % mr], the values in panels of mr
        // dimensions [d / mr][key][d % mr]; the last panels padded with zeros
        int kHeadSize = (tk + mr - 1) / mr * mr * hd, vHeadSize = (hd + mr - 1) / mr * mr * tk;
        float[][] scratch = HEADS.get();
        int heads2 = batch * heads;
        if (scratch[0].length < heads2 * kHeadSize) scratch[0] = new float[heads2 * kHeadSize];
        if (scratch[1].length < heads2 * vHeadSize) scratch[1] = new float[heads2 * vHeadSize];
        float[] kp = scratch[0], vp = scratch[1];
        Parallel.RangeBody gather = (g0, g1) -> {
            for (int g = g0; g < g1; g++) gatherHead(k.data, v.data, kp, vp, g / heads, g % heads, tk, c, hd, mr, kHeadSize, vHeadSize);
        };
        if (parallel) Parallel.forRange(batch * heads, 1, gather);
        else gather.run(0, batch * heads);

        int tasks = batch * heads * qTiles;
        Parallel.RangeBody body = (t0, t1) -> {
            Work w = WORK.get();
            w.ensure(bq * hd, bq * bk, (hd + mr) * bq, bq);
            for (int t = t0; t < t1; t++) {
                int n = t / (heads * qTiles), h = t / qTiles % heads, q0 = t % qTiles * bq;
                task(mk, w, q.data, kp, vp, out, n, h, q0, Math.min(bq, tq - q0), bq, bk, tq, tk, kHeadSize, vHeadSize, c, hd, heads, scale, causal);
            }
        };
        if (parallel) Parallel.forRange(tasks, 1, body);
        else body.run(0, tasks);
        return new Tensor(out, batch, tq, c);
    }

    /** Rows of Oᵀ computed: hd rounded up to whole kernel tiles. */
    private static int dTilesRows(int hd, int mr) {
        return (hd + mr - 1) / mr * mr;
    }

    /**
     * Head h of batch item n into panels of mr: keys kp[head][key / mr][d][key % mr] and values
     * vp[head][d / mr][key][d % mr] (head = n·heads + h), = k[n][key][h·hd + d] and v[n][key][h·hd + d];
     * zero where a last panel runs past the keys or the head's dimensions.
     */
    private static void gatherHead(float[] k, float[] v, float[] kp, float[] vp, int n, int h, int tk, int c, int hd, int mr,
                                   int kHeadSize, int vHeadSize) {
        int head = n * (c / hd) + h;
        int kHead = head * kHeadSize, vHead = head * vHeadSize;
        // only a last, partly filled panel has lanes the loop below does not write
        Arrays.fill(kp, kHead + tk / mr * hd * mr, kHead + kHeadSize, 0f);
        Arrays.fill(vp, vHead + hd / mr * tk * mr, vHead + vHeadSize, 0f);
        for (int key = 0; key < tk; key++) {
            int src = (n * tk + key) * c + h * hd;
            int kDst = kHead + key / mr * hd * mr + key % mr, vDst = vHead + key * mr;
            for (int d = 0; d < hd; d++) {
                kp[kDst + d * mr] = k[src + d];
                vp[vDst + d / mr * tk * mr + d % mr] = v[src + d];
            }
        }
    }

    private static void task(MicroKernels mk, Work w, float[] q, float[] kp, float[] vp, float[] out,
                             int n, int h, int q0, int nq, int bq, int bk, int tq, int tk, int kHeadSize, int vHeadSize, int c, int hd,
                             int heads, float scale, boolean causal) {
        final int nr = mk.nr, mr = mk.maxMr;
        final int panels = (nq + nr - 1) / nr;  // query panels in use
        final int ldo = bq;                     // Oᵀ is [hd][bq]
        final int head = n * heads + h;
        final int kHead = head * kHeadSize, vHead = head * vHeadSize;
        float[] qp = w.q, sp = w.s, o = w.o, max = w.max, sum = w.sum;

        // Qᵀ, scaled, as packed B panels [panel][hd][nr]; queries past nq are zero
        Arrays.fill(qp, 0, panels * hd * nr, 0f);
        for (int j = 0; j < nq; j++) {
            int src = (n * tq + q0 + j) * c + h * hd;
            int dst = (j / nr) * hd * nr + j % nr;
            for (int d = 0; d < hd; d++, dst += nr) qp[dst] = q[src + d] * scale;
        }
        Arrays.fill(o, 0, dTilesRows(hd, mr) * ldo, 0f);
        Arrays.fill(max, 0, bq, Float.NEGATIVE_INFINITY);
        Arrays.fill(sum, 0, bq, 0f);

        // Oᵀ in tiles of mr rows; the last one may run past hd (rows thrown away, Oᵀ has room for them)
        int keyEnd = causal ? Math.min(tk, q0 + nq) : tk;
        for (int k0 = 0; k0 < keyEnd; k0 += bk) {
            int kb = Math.min(bk, keyEnd - k0);
            for (int jp = 0; jp < panels; jp++) {
                int sBase = jp * bk * nr;
                // Sᵀ[key][query] for this panel: A = the keys' panel (k0 and ir are whole panels), B = Qᵀ panel;
                // a ragged last tile computes rows past kb too (bk is whole tiles), which nothing reads
                for (int ir = 0; ir < kb; ir += mr) {
                    mk.packed(kp, kHead + (k0 + ir) * hd, qp, jp * hd * nr, hd, sp, sBase + ir * nr, nr, false);
                }
                softmaxUpdate(sp, sBase, nr, kb, k0, q0 + jp * nr, causal, max, sum, w.ref, w.alpha, jp * nr, o, ldo, hd);
                // Oᵀ[d][query] += Vᵀ[d][key] · Pᵀ[key][query]: A = the values' panel of dimensions d0.., from key k0 on
                for (int d0 = 0; d0 < hd; d0 += mr) {
                    mk.packed(vp, vHead + d0 * tk + k0 * mr, sp, sBase, kb, o, d0 * ldo + jp * nr, ldo, true);
                }
            }
        }
        for (int j = 0; j < nq; j++) {
            float inv = 1f / sum[j];
            int dst = (n * tq + q0 + j) * c + h * hd;
            for (int d = 0; d < hd; d++) out[dst + d] = o[d * ldo + j] * inv;
        }
    }

    /** Vector species for the softmax statistics; a compile-time constant, as the Vector API needs to be fast. */
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * One key tile of the online softmax for nr queries (columns col0.. of the statistics and of Oᵀ):
     * turns the scores sp[sBase + key·nr + j] into 2^(s − newMax) in place, updates the running max and
     * sum, and rescales the output accumulated so far by 2^(oldMax − newMax). The vector path takes tiles
     * two preferred vectors wide (the preferred kernels' nr); other widths (tests of narrower kernel
     * families) go one query at a time. Its steps are separate small methods that pass the per-query
     * values through arrays (ref, alpha): a vector handed to a method C2 does not inline is boxed, and this
     * method alone is too large for C2 to inline everything into it.
     */
    private static void softmaxUpdate(float[] sp, int sBase, int nr, int kb, int k0, int firstQuery, boolean causal,
                                      float[] max, float[] sum, float[] ref, float[] alpha, int col0, float[] o, int ldo, int hd) {
        int lanes = S.length();
        if (nr != 2 * lanes) {
            softmaxUpdateScalar(sp, sBase, nr, kb, k0, firstQuery, causal, max, sum, col0, o, ldo, hd);
            return;
        }
        if (causal) {
            for (int g = 0; g < nr; g += lanes) {
                int query = firstQuery + g; // query index of lane 0
                // keys after lane 0's query are masked; from key k0 + visible on they are
                int visible = Math.max(0, Math.min(kb, query + 1 - k0));
                if (visible < kb) maskCausal(sp, sBase + g + visible * nr, nr, kb - visible, k0 + visible - query);
            }
        }
        for (int g = 0; g < nr; g += lanes) newMax(sp, sBase + g, nr, kb, max, ref, alpha, col0 + g);
        expRows(sp, sBase, nr, kb, ref, sum, alpha, col0);
        rescale(o, col0, ldo, hd, alpha);
    }

    /**
     * For the lanes of one vector of queries (column col, scores from s down the rows): the max over the
     * tile's rows and the running max → max[col..]; the exponent's reference → ref[col..] (the max, or 0 for
     * a lane with no visible key so far, whose masked scores then give 2^−126, not NaN); and the factor
     * 2^(old max − ref) → alpha[col..].
     */
    private static void newMax(float[] sp, int s, int nr, int rows, float[] max, float[] ref, float[] alpha, int col) {
        FloatVector old = FloatVector.fromArray(S, max, col);
        FloatVector m0 = old, m1 = old;
        int r = 0;
        for (; r + 1 < rows; r += 2, s += 2 * nr) { // two chains, to hide the latency of max
            m0 = m0.max(FloatVector.fromArray(S, sp, s));
            m1 = m1.max(FloatVector.fromArray(S, sp, s + nr));
        }
        if (r < rows) m0 = m0.max(FloatVector.fromArray(S, sp, s));
        FloatVector m = m0.max(m1);
        m.intoArray(max, col);
        FloatVector reference = m.blend(FloatVector.zero(S), m.compare(VectorOperators.EQ, Float.NEGATIVE_INFINITY));
        reference.intoArray(ref, col);
        VectorMath.exp2NonPositive(old.sub(reference)).intoArray(alpha, col);
    }

    /** Oᵀ's columns col0.. (two vectors of queries), every one of its hd rows, times alpha[col0..]. */
    private static void rescale(float[] o, int col0, int ldo, int hd, float[] alpha) {
        int lanes = S.length();
        FloatVector alpha0 = FloatVector.fromArray(S, alpha, col0), alpha1 = FloatVector.fromArray(S, alpha, col0 + lanes);
        for (int d = 0, oo = col0; d < hd; d++, oo += ldo) {
            FloatVector.fromArray(S, o, oo).mul(alpha0).intoArray(o, oo);
            FloatVector.fromArray(S, o, oo + lanes).mul(alpha1).intoArray(o, oo + lanes);
        }
    }

    /**
     * Replaces rows [0, rows) of a two-vector-wide tile (stride nr from s) by 2^(x − ref[col..]) and sets
     * sum[col..] to sum·alpha plus their lane-wise sums. Its own small method, so that C2 inlines exp2 here
     * (see {@link Pointwise#apply}).
     */
    private static void expRows(float[] sp, int s, int nr, int rows, float[] ref, float[] sum, float[] alpha, int col) {
        int lanes = S.length();
        FloatVector ref0 = FloatVector.fromArray(S, ref, col), ref1 = FloatVector.fromArray(S, ref, col + lanes);
        FloatVector sum0 = FloatVector.zero(S), sum1 = sum0;
        for (int r = 0; r < rows; r++, s += nr) {
            FloatVector p0 = VectorMath.exp2NonPositive(FloatVector.fromArray(S, sp, s).sub(ref0));
            FloatVector p1 = VectorMath.exp2NonPositive(FloatVector.fromArray(S, sp, s + lanes).sub(ref1));
            p0.intoArray(sp, s);
            p1.intoArray(sp, s + lanes);
            sum0 = sum0.add(p0);
            sum1 = sum1.add(p1);
        }
        FloatVector.fromArray(S, sum, col).fma(FloatVector.fromArray(S, alpha, col), sum0).intoArray(sum, col);
        FloatVector.fromArray(S, sum, col + lanes).fma(FloatVector.fromArray(S, alpha, col + lanes), sum1).intoArray(sum, col + lanes);
    }

    /**
     * Masks rows [0, rows) of a lane group (stride nr from s): lane j of row r is −∞ when
     * {@code r + firstKeyMinusQuery > j}, i.e. when its key comes after its query.
     */
    private static void maskCausal(float[] sp, int s, int nr, int rows, int firstKeyMinusQuery) {
        for (int r = 0; r < rows; r++, s += nr) {
            FloatVector x = FloatVector.fromArray(S, sp, s);
            x.blend(Float.NEGATIVE_INFINITY, S.indexInRange(0, firstKeyMinusQuery + r)).intoArray(sp, s);
        }
    }

    /** The same, one query at a time (kernel families narrower than the preferred vectors: tests). */
    private static void softmaxUpdateScalar(float[] sp, int sBase, int nr, int kb, int k0, int firstQuery,
                                            boolean causal, float[] max, float[] sum, int col0, float[] o, int ldo, int hd) {
        for (int j = 0; j < nr; j++) {
            int query = firstQuery + j;
            float tileMax = Float.NEGATIVE_INFINITY;
            for (int kk = 0, s = sBase + j; kk < kb; kk++, s += nr) {
                if (causal && k0 + kk > query) sp[s] = Float.NEGATIVE_INFINITY;
                tileMax = Math.max(tileMax, sp[s]);
            }
            float oldMax = max[col0 + j], newMax = Math.max(oldMax, tileMax);
            float ref = newMax == Float.NEGATIVE_INFINITY ? 0f : newMax;
            float alpha = (float) Math.pow(2, oldMax - ref);
            float tileSum = 0;
            for (int kk = 0, s = sBase + j; kk < kb; kk++, s += nr) {
                sp[s] = (float) Math.pow(2, sp[s] - ref);
                tileSum += sp[s];
            }
            sum[col0 + j] = sum[col0 + j] * alpha + tileSum;
            max[col0 + j] = newMax;
            for (int d = 0; d < hd; d++) o[d * ldo + col0 + j] *= alpha;
        }
    }
}
