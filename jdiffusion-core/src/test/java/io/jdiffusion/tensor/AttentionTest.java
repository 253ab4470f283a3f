package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;

class AttentionTest {
    /** {batch, Tq, Tk, heads, head dim}. */
    private static final int[][] CASES = {{2, 77, 13, 3, 7}, {1, 77, 77, 3, 40}, {1, 5, 100, 2, 16}, {2, 130, 70, 1, 33}, {1, 1, 1, 1, 1}};

    @Test
    void matchesTheNaiveAttentionCausalOrNot() {
        Random32 r = new Random32(21);
        for (int[] cs : CASES) {
            int c = cs[3] * cs[4];
            Tensor q = r.tensor(cs[0], cs[1], c), k = r.tensor(cs[0], cs[2], c), v = r.tensor(cs[0], cs[2], c);
            Random32.assertClose(Ops.attention(q, k, v, cs[3], false), NaiveOps.attention(q, k, v, cs[3], false), 1e-5);
            if (cs[1] == cs[2]) {
                Random32.assertClose(Ops.attention(q, k, v, cs[3], true), NaiveOps.attention(q, k, v, cs[3], true), 1e-5);
            }
        }
    }

    /** Causal with more keys than queries: query i still sees only keys 0..i. */
    @Test
    void causalWithMoreKeysThanQueries() {
        Random32 r = new Random32(22);
        Tensor q = r.tensor(1, 40, 24), k = r.tensor(1, 90, 24), v = r.tensor(1, 90, 24);
        Random32.assertClose(Ops.attention(q, k, v, 2, true), NaiveOps.attention(q, k, v, 2, true), 1e-5);
    }

    /**
     * Small tiles so that the online softmax runs over many key tiles (its rescaling of earlier tiles),
     * with every kernel family; scores are spread wide (large values) so that the running max changes.
     */
    @Test
    void manyKeyTilesAndEveryKernelFamily() {
        Random32 r = new Random32(23);
        for (int bits : new int[]{512, 256, 128}) {
            MicroKernels mk = MicroKernels.forBits(bits);
            for (int[] tiles : new int[][]{{1, 5}, {40, 17}, {64, 256}}) {
                Attention.Tiles t = new Attention.Tiles(tiles[0], tiles[1]);
                for (boolean causal : new boolean[]{false, true}) {
                    Tensor q = scaled(r.tensor(2, 61, 3 * 20), 4f), k = scaled(r.tensor(2, 61, 3 * 20), 4f), v = r.tensor(2, 61, 3 * 20);
                    Random32.assertClose(Attention.attention(mk, t, q, k, v, 3, causal), NaiveOps.attention(q, k, v, 3, causal), 1e-5);
                }
            }
        }
    }

    /** Big enough for the thread pool (many tasks), SD-like head dimension. */
    @Test
    void largeSelfAttention() {
        Random32 r = new Random32(24);
        Tensor q = r.tensor(1, 300, 80), k = r.tensor(1, 300, 80), v = r.tensor(1, 300, 80);
        Random32.assertClose(Ops.attention(q, k, v, 2, false), NaiveOps.attention(q, k, v, 2, false), 1e-5);
    }

    private static Tensor scaled(Tensor t, float s) {
        for (int i = 0; i < t.data.length; i++) t.data[i] *= s;
        return t;
    }
}
