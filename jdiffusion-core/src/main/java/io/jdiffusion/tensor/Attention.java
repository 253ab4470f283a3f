package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Multi-head attention with an online softmax over key tiles (flash-attention style): the Tq×Tk score
 * matrix never exists, only one tile of it per task.
 *
 * <p>A task is one (batch, head, tile of queries). It works on transposed tiles so that the queries lie
 * along the vector lanes: {@code Sᵀ[key, query] = K·(scale·Q)ᵀ} reads the keys in place as the kernels' A
 * and the query tile, packed once, as B; the softmax statistics (running max and sum per query) are then
 * plain lane-wise vector operations down the key rows; and {@code Oᵀ[d, query] += Vᵀ·Pᵀ} reads V in place
 * (its rows are Vᵀ's columns) with Pᵀ already in the packed panel layout the kernels take as B.
 */
final class Attention {
    private Attention() {
    }

    /** Queries per task and keys per tile. */
    record Tiles(int queries, int keys) {
        static final Tiles DEFAULT = new Tiles(64, 256);
    }

    /** Scratch of one thread: packed queries, the score tile, the output accumulator and the softmax statistics. */
    private static final class Work {
        float[] q = new float[0], s = new float[0], o = new float[0], max = new float[0], sum = new float[0];

        void ensure(int qLen, int sLen, int oLen, int cols) {
            if (q.length < qLen) q = new float[qLen];
            if (s.length < sLen) s = new float[sLen];
            if (o.length < oLen) o = new float[oLen];
            if (max.length < cols) {
                max = new float[cols];
                sum = new float[cols];
            }
        }
    }

    private static final ThreadLocal<Work> WORK = ThreadLocal.withInitial(Work::new);

    /** q [B, Tq, C], k and v [B, Tk, C], C split into heads; scale 1/sqrt(C/heads); causal: query i sees keys ≤ i. */
    static Tensor attention(MicroKernels mk, Tiles tiles, Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        int batch = q.dim(0), tq = q.dim(1), c = q.dim(2), tk = k.dim(1);
        if (k.dim(0) != batch || v.dim(0) != batch || k.dim(2) != c || v.dim(2) != c || v.dim(1) != tk || c % heads != 0) {
            throw new IllegalArgumentException("attention of q " + q + ", k " + k + ", v " + v + " with " + heads + " heads");
        }
        int hd = c / heads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        int nr = mk.nr;
        int bq = Math.max(nr, tiles.queries() / nr * nr);
        int bk = Math.max(1, tiles.keys());
        int qTiles = (tq + bq - 1) / bq;
        float[] out = new float[batch * tq * c];
        long flops = 4L * batch * tq * tk * c;
        int tasks = batch * heads * qTiles;
        Parallel.RangeBody body = (t0, t1) -> {
            Work w = WORK.get();
            w.ensure(bq * hd, bq * bk, hd * bq, bq);
            for (int t = t0; t < t1; t++) {
                int n = t / (heads * qTiles), h = t / qTiles % heads, q0 = t % qTiles * bq;
                task(mk, w, q.data, k.data, v.data, out, n, h, q0, Math.min(bq, tq - q0), bq, bk, tq, tk, c, hd, scale, causal);
            }
        };
        if (flops < (1L << 20)) body.run(0, tasks);
        else Parallel.forRange(tasks, 1, body);
        return new Tensor(out, batch, tq, c);
    }

    private static void task(MicroKernels mk, Work w, float[] q, float[] k, float[] v, float[] out,
                             int n, int h, int q0, int nq, int bq, int bk, int tq, int tk, int c, int hd,
                             float scale, boolean causal) {
        final int nr = mk.nr, mr = mk.maxMr;
        final int panels = (nq + nr - 1) / nr;  // query panels in use
        final int ldo = bq;                     // Oᵀ is [hd][bq]
        float[] qp = w.q, sp = w.s, o = w.o, max = w.max, sum = w.sum;

        // Qᵀ, scaled, as packed B panels [panel][hd][nr]; queries past nq are zero
        Arrays.fill(qp, 0, panels * hd * nr, 0f);
        for (int j = 0; j < nq; j++) {
            int src = (n * tq + q0 + j) * c + h * hd;
            int dst = (j / nr) * hd * nr + j % nr;
            for (int d = 0; d < hd; d++, dst += nr) qp[dst] = q[src + d] * scale;
        }
        Arrays.fill(o, 0, hd * ldo, 0f);
        Arrays.fill(max, 0, bq, Float.NEGATIVE_INFINITY);
        Arrays.fill(sum, 0, bq, 0f);

        // Oᵀ rows split into nearly equal kernel tiles (hd = 40 → 14 + 13 + 13)
        int dTiles = (hd + mr - 1) / mr;
        int keyEnd = causal ? Math.min(tk, q0 + nq) : tk;
        for (int k0 = 0; k0 < keyEnd; k0 += bk) {
            int kb = Math.min(bk, keyEnd - k0);
            int kBase = (n * tk + k0) * c + h * hd;
            for (int jp = 0; jp < panels; jp++) {
                int sBase = jp * bk * nr;
                // Sᵀ[key][query] for this panel: keys read in place (row-major, stride c), Qᵀ packed
                for (int ir = 0; ir < kb; ir += mr) {
                    mk.rows(Math.min(mr, kb - ir), k, kBase + ir * c, c, qp, jp * hd * nr, hd, sp, sBase + ir * nr, nr, false);
                }
                softmaxUpdate(mk.species, sp, sBase, nr, kb, k0, q0 + jp * nr, causal, max, sum, jp * nr, o, ldo, hd);
                // Oᵀ[d][query] += Vᵀ[d][key] · Pᵀ[key][query]
                for (int t = 0, d0 = 0; t < dTiles; t++) {
                    int rows = (hd - d0) / (dTiles - t);
                    mk.packed(rows, v, kBase + d0, c, sp, sBase, kb, o, d0 * ldo + jp * nr, ldo, true);
                    d0 += rows;
                }
            }
        }
        for (int j = 0; j < nq; j++) {
            float inv = 1f / sum[j];
            int dst = (n * tq + q0 + j) * c + h * hd;
            for (int d = 0; d < hd; d++) out[dst + d] = o[d * ldo + j] * inv;
        }
    }

    /**
     * One key tile of the online softmax for nr queries (columns col0.. of the statistics and of Oᵀ):
     * turns the scores sp[sBase + key·nr + j] into exp(s − newMax) in place, updates the running max and
     * sum, and rescales the output accumulated so far by exp(oldMax − newMax).
     */
    private static void softmaxUpdate(VectorSpecies<Float> sv, float[] sp, int sBase, int nr, int kb, int k0, int firstQuery,
                                      boolean causal, float[] max, float[] sum, int col0, float[] o, int ldo, int hd) {
        int lanes = sv.length();
        for (int g = 0; g < nr; g += lanes) {
            int col = col0 + g;
            int query = firstQuery + g; // query index of lane 0
            FloatVector tileMax = FloatVector.broadcast(sv, Float.NEGATIVE_INFINITY);
            for (int kk = 0, s = sBase + g; kk < kb; kk++, s += nr) {
                FloatVector x = FloatVector.fromArray(sv, sp, s);
                if (causal && k0 + kk > query) {
                    // lanes whose query comes before this key are masked out
                    VectorMask<Float> masked = sv.indexInRange(0, k0 + kk - query);
                    x = x.blend(Float.NEGATIVE_INFINITY, masked);
                    x.intoArray(sp, s);
                }
                tileMax = tileMax.max(x);
            }
            FloatVector oldMax = FloatVector.fromArray(sv, max, col);
            FloatVector newMax = oldMax.max(tileMax);
            // a lane with no visible key so far keeps max −∞; measure it from 0 so that exp gives 0, not NaN
            FloatVector ref = newMax.blend(0f, newMax.compare(VectorOperators.EQ, Float.NEGATIVE_INFINITY));
            FloatVector alpha = oldMax.sub(ref).lanewise(VectorOperators.EXP);
            FloatVector tileSum = FloatVector.zero(sv);
            for (int kk = 0, s = sBase + g; kk < kb; kk++, s += nr) {
                FloatVector p = FloatVector.fromArray(sv, sp, s).sub(ref).lanewise(VectorOperators.EXP);
                p.intoArray(sp, s);
                tileSum = tileSum.add(p);
            }
            FloatVector.fromArray(sv, sum, col).fma(alpha, tileSum).intoArray(sum, col);
            newMax.intoArray(max, col);
            for (int d = 0, oo = col; d < hd; d++, oo += ldo) {
                FloatVector.fromArray(sv, o, oo).mul(alpha).intoArray(o, oo);
            }
        }
    }
}
