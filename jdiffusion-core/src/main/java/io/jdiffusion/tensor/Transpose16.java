package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Transposes 16×16 blocks of floats in 512-bit registers: four rounds of two-table permutes (a row pair
 * at distance 8, 4, 2, 1 swaps its off-diagonal blocks of that width), 64 permutes for 256 values where a
 * scalar loop reads each value with a stride. Used while packing a weight [N, K] into B panels [K][N].
 */
final class Transpose16 {
    private Transpose16() {
    }

    /** Rows and columns of a block: the lanes of a 512-bit float vector. */
    static final int N = 16;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
    /** Whether this CPU has 512-bit vectors (else the callers keep their scalar loops). */
    static final boolean FITS = FloatVector.SPECIES_PREFERRED.length() >= N;

    /** Per round (width 8, 4, 2, 1): table indexes for the upper row of a pair, and for the lower row. */
    private static final FloatVector[] LOW = new FloatVector[4], HIGH = new FloatVector[4];

    static {
        for (int r = 0; r < 4; r++) {
            int b = 8 >> r;
            float[] low = new float[N], high = new float[N];
            for (int l = 0; l < N; l++) {
                // lanes in the block's first half of each width-2b group stay; the others come from the partner
                boolean first = (l & b) == 0;
                low[l] = first ? l : N + l - b;
                high[l] = first ? l + b : N + l;
            }
            LOW[r] = FloatVector.fromArray(S, low, 0);
            HIGH[r] = FloatVector.fromArray(S, high, 0);
        }
    }

    /**
     * dst[dOff + c·dStride + r] = src[sOff + r·sStride + c] for r, c below 16. Written out register by
     * register: vectors held in an array would be boxed objects, some 8× slower.
     */
    static void block(float[] src, int sOff, int sStride, float[] dst, int dOff, int dStride) {
        FloatVector v0 = FloatVector.fromArray(S, src, sOff + 0 * sStride);
        FloatVector v1 = FloatVector.fromArray(S, src, sOff + 1 * sStride);
        FloatVector v2 = FloatVector.fromArray(S, src, sOff + 2 * sStride);
        FloatVector v3 = FloatVector.fromArray(S, src, sOff + 3 * sStride);
        FloatVector v4 = FloatVector.fromArray(S, src, sOff + 4 * sStride);
        FloatVector v5 = FloatVector.fromArray(S, src, sOff + 5 * sStride);
        FloatVector v6 = FloatVector.fromArray(S, src, sOff + 6 * sStride);
        FloatVector v7 = FloatVector.fromArray(S, src, sOff + 7 * sStride);
        FloatVector v8 = FloatVector.fromArray(S, src, sOff + 8 * sStride);
        FloatVector v9 = FloatVector.fromArray(S, src, sOff + 9 * sStride);
        FloatVector v10 = FloatVector.fromArray(S, src, sOff + 10 * sStride);
        FloatVector v11 = FloatVector.fromArray(S, src, sOff + 11 * sStride);
        FloatVector v12 = FloatVector.fromArray(S, src, sOff + 12 * sStride);
        FloatVector v13 = FloatVector.fromArray(S, src, sOff + 13 * sStride);
        FloatVector v14 = FloatVector.fromArray(S, src, sOff + 14 * sStride);
        FloatVector v15 = FloatVector.fromArray(S, src, sOff + 15 * sStride);
        // width 8
        FloatVector low0 = LOW[0], high0 = HIGH[0];
        FloatVector t0_0 = low0.selectFrom(v0, v8);
        v8 = high0.selectFrom(v0, v8);
        v0 = t0_0;
        FloatVector t0_1 = low0.selectFrom(v1, v9);
        v9 = high0.selectFrom(v1, v9);
        v1 = t0_1;
        FloatVector t0_2 = low0.selectFrom(v2, v10);
        v10 = high0.selectFrom(v2, v10);
        v2 = t0_2;
        FloatVector t0_3 = low0.selectFrom(v3, v11);
        v11 = high0.selectFrom(v3, v11);
        v3 = t0_3;
        FloatVector t0_4 = low0.selectFrom(v4, v12);
        v12 = high0.selectFrom(v4, v12);
        v4 = t0_4;
        FloatVector t0_5 = low0.selectFrom(v5, v13);
        v13 = high0.selectFrom(v5, v13);
        v5 = t0_5;
        FloatVector t0_6 = low0.selectFrom(v6, v14);
        v14 = high0.selectFrom(v6, v14);
        v6 = t0_6;
        FloatVector t0_7 = low0.selectFrom(v7, v15);
        v15 = high0.selectFrom(v7, v15);
        v7 = t0_7;
        // width 4
        FloatVector low1 = LOW[1], high1 = HIGH[1];
        FloatVector t1_0 = low1.selectFrom(v0, v4);
        v4 = high1.selectFrom(v0, v4);
        v0 = t1_0;
        FloatVector t1_1 = low1.selectFrom(v1, v5);
        v5 = high1.selectFrom(v1, v5);
        v1 = t1_1;
        FloatVector t1_2 = low1.selectFrom(v2, v6);
        v6 = high1.selectFrom(v2, v6);
        v2 = t1_2;
        FloatVector t1_3 = low1.selectFrom(v3, v7);
        v7 = high1.selectFrom(v3, v7);
        v3 = t1_3;
        FloatVector t1_8 = low1.selectFrom(v8, v12);
        v12 = high1.selectFrom(v8, v12);
        v8 = t1_8;
        FloatVector t1_9 = low1.selectFrom(v9, v13);
        v13 = high1.selectFrom(v9, v13);
        v9 = t1_9;
        FloatVector t1_10 = low1.selectFrom(v10, v14);
        v14 = high1.selectFrom(v10, v14);
        v10 = t1_10;
        FloatVector t1_11 = low1.selectFrom(v11, v15);
        v15 = high1.selectFrom(v11, v15);
        v11 = t1_11;
        // width 2
        FloatVector low2 = LOW[2], high2 = HIGH[2];
        FloatVector t2_0 = low2.selectFrom(v0, v2);
        v2 = high2.selectFrom(v0, v2);
        v0 = t2_0;
        FloatVector t2_1 = low2.selectFrom(v1, v3);
        v3 = high2.selectFrom(v1, v3);
        v1 = t2_1;
        FloatVector t2_4 = low2.selectFrom(v4, v6);
        v6 = high2.selectFrom(v4, v6);
        v4 = t2_4;
        FloatVector t2_5 = low2.selectFrom(v5, v7);
        v7 = high2.selectFrom(v5, v7);
        v5 = t2_5;
        FloatVector t2_8 = low2.selectFrom(v8, v10);
        v10 = high2.selectFrom(v8, v10);
        v8 = t2_8;
        FloatVector t2_9 = low2.selectFrom(v9, v11);
        v11 = high2.selectFrom(v9, v11);
        v9 = t2_9;
        FloatVector t2_12 = low2.selectFrom(v12, v14);
        v14 = high2.selectFrom(v12, v14);
        v12 = t2_12;
        FloatVector t2_13 = low2.selectFrom(v13, v15);
        v15 = high2.selectFrom(v13, v15);
        v13 = t2_13;
        // width 1
        FloatVector low3 = LOW[3], high3 = HIGH[3];
        FloatVector t3_0 = low3.selectFrom(v0, v1);
        v1 = high3.selectFrom(v0, v1);
        v0 = t3_0;
        FloatVector t3_2 = low3.selectFrom(v2, v3);
        v3 = high3.selectFrom(v2, v3);
        v2 = t3_2;
        FloatVector t3_4 = low3.selectFrom(v4, v5);
        v5 = high3.selectFrom(v4, v5);
        v4 = t3_4;
        FloatVector t3_6 = low3.selectFrom(v6, v7);
        v7 = high3.selectFrom(v6, v7);
        v6 = t3_6;
        FloatVector t3_8 = low3.selectFrom(v8, v9);
        v9 = high3.selectFrom(v8, v9);
        v8 = t3_8;
        FloatVector t3_10 = low3.selectFrom(v10, v11);
        v11 = high3.selectFrom(v10, v11);
        v10 = t3_10;
        FloatVector t3_12 = low3.selectFrom(v12, v13);
        v13 = high3.selectFrom(v12, v13);
        v12 = t3_12;
        FloatVector t3_14 = low3.selectFrom(v14, v15);
        v15 = high3.selectFrom(v14, v15);
        v14 = t3_14;
        v0.intoArray(dst, dOff + 0 * dStride);
        v1.intoArray(dst, dOff + 1 * dStride);
        v2.intoArray(dst, dOff + 2 * dStride);
        v3.intoArray(dst, dOff + 3 * dStride);
        v4.intoArray(dst, dOff + 4 * dStride);
        v5.intoArray(dst, dOff + 5 * dStride);
        v6.intoArray(dst, dOff + 6 * dStride);
        v7.intoArray(dst, dOff + 7 * dStride);
        v8.intoArray(dst, dOff + 8 * dStride);
        v9.intoArray(dst, dOff + 9 * dStride);
        v10.intoArray(dst, dOff + 10 * dStride);
        v11.intoArray(dst, dOff + 11 * dStride);
        v12.intoArray(dst, dOff + 12 * dStride);
        v13.intoArray(dst, dOff + 13 * dStride);
        v14.intoArray(dst, dOff + 14 * dStride);
        v15.intoArray(dst, dOff + 15 * dStride);
    }
}
