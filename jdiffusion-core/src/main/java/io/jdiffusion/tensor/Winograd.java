package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * 3×3 convolution, stride 1, padding 1, by Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, 2015):
 * each 2×2 block of output pixels ("tile") comes from the 4×4 input patch around it as
 * {@code Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A}, 16 multiplications per tile and channel pair where the direct
 * convolution does 36. Over channels the 16 elementwise products are 16 independent matrix products,
 * {@code M_e[Cout, tiles] = U_e[Cout, Cin] · V_e[Cin, tiles]}, which run on the GEMM's kernels: 2.25× fewer
 * multiply-adds than the implicit GEMM of {@link Convolution}, for a few additions per value in the transforms.
 *
 * <p>The transforms use only ±1 and ½ (the interpolation points 0, ±1, ∞), so the result differs from the
 * direct sum by rounding alone, as a different order of summation would.
 *
 * <p>Memory stays bounded at any image size: the tiles go in chunks of whole tile rows, the output channels in
 * blocks, so that V, M (16 values per tile and channel) and U stay within a few tens of MB.
 */
final class Winograd {
    private Winograd() {
    }

    /** Elements per tile in the transformed domain (4×4). */
    private static final int E = 16;
    /**
     * Bytes of V and M together per chunk of tiles: enough for all tiles of the UNet's convolutions at 512×512 but
     * the widest (1920 channels at 32×32 take two chunks). A convolution cut into several chunks and several
     * blocks of output channels transforms its input once per block, and its products are narrower: at 16 MB a
     * 512² step's Winograd convolutions took 1.13× as long (in one process, alternating, median of 9).
     */
    private static final long CHUNK_BYTES = 64L << 20;
    /** Bytes of U per block of output channels. */
    private static final long WEIGHT_BYTES = 32L << 20;


    /**
     * Whether this convolution should go this way: 3×3, stride 1, same-size padding of 1, and enough tiles and
     * channels for the products to stay efficient (the UNet's 8×8 level and the 3- or 4-channel inputs and
     * outputs stay direct: their products would be a few columns or rows wide, and the weight transform would
     * cost more than it saves).
     */
    static boolean applies(Tensor x, Weight w, int stride, int padTop, int padLeft, int oh, int ow) {
        return Variants.winograd && w.dim(2) == 3 && w.dim(3) == 3 && stride == 1 && padTop == 1 && padLeft == 1
                && oh == x.dim(2) && ow == x.dim(3) && oh >= 16 && ow >= 16 && x.dim(1) >= 32 && w.dim(0) >= 32;
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    static Tensor conv3x3(MicroKernels mk, Gemm.Blocking blk, Tensor x, Weight w, Weight b) {
        return conv3x3(mk, blk, x, w, b, CHUNK_BYTES, WEIGHT_BYTES);
    }

    /** With the budgets for V and M together per chunk of tiles (chunkBytes) and for U (weightBytes). */
    static Tensor conv3x3(MicroKernels mk, Gemm.Blocking blk, Tensor x, Weight w, Weight b, long chunkBytes, long weightBytes) {
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = w.dim(0);
        int tilesH = (h + 1) / 2, tilesW = (wd + 1) / 2, tileRows = batch * tilesH;
        float[] bias = b == null ? null : b.toFloats();
        float[] out = Workspace.floats(batch * cout * h * wd);

        int coutBlock = (int) Math.min(cout, Math.max(mk.maxMr, weightBytes / (4L * E * cin)));
        int coutBlocks = (cout + coutBlock - 1) / coutBlock;
        coutBlock = (cout + coutBlocks - 1) / coutBlocks;
        int rowsPerChunk = (int) Math.max(1, Math.min(tileRows, chunkBytes / (4L * E * tilesW * (cin + coutBlock))));
        int chunks = (tileRows + rowsPerChunk - 1) / rowsPerChunk;
        rowsPerChunk = (tileRows + chunks - 1) / chunks;
        // rows of U, V and M padded to whole vectors: the transforms read and write whole vectors only (masked
        // ones cost a vector's boxing in C2 when the mask may be absent, and masked stores are slow on AMD)
        int cinRow = padded(cin), maxTileRow = tileRowLength(rowsPerChunk, tilesW);

        float[][] scratch = SCRATCH.get();
        float[] u = grown(scratch, U, E * skewed(coutBlock * cinRow));
        float[] v = grown(scratch, V, E * skewed(cin * maxTileRow));
        float[] m = grown(scratch, M, E * skewed(coutBlock * maxTileRow));
        Geometry g = new Geometry(cin, h, wd, tilesH, tilesW);
        for (int co0 = 0; co0 < cout; co0 += coutBlock) {
            int cb = Math.min(coutBlock, cout - co0), firstCo = co0;
            int uPlane = skewed(cb * cinRow);
            Parallel.forRange(cb, 4, (c0, c1) -> transformWeights(w, cin, cinRow, firstCo, c0, c1, u, uPlane));
            for (int r0 = 0; r0 < tileRows; r0 += rowsPerChunk) {
                int rows = Math.min(rowsPerChunk, tileRows - r0), firstRow = r0, nt = rows * tilesW, ntRow = tileRowLength(rows, tilesW);
                int vPlane = skewed(cin * ntRow), mPlane = skewed(cb * ntRow);
                // one chunk: its V serves every block of output channels
                if (chunks > 1 || co0 == 0) {
                    Parallel.forRange(cin, 1, (c0, c1) -> transformInput(g, x.data, firstRow, rows, c0, c1, v, ntRow, vPlane));
                }
                Parallel.forRange(E, 1, (e0, e1) -> {
                    for (int e = e0; e < e1; e++) {
                        Gemm.runSerial(mk, blk, cb, nt, cin, new Gemm.RowMajorA(u, e * uPlane, cinRow),
                                new Gemm.RowMajorB(v, e * vPlane, ntRow), Gemm.Out.rowMajor(m, e * mPlane, ntRow));
                    }
                });
                Parallel.forRange(cb, 1, (c0, c1) -> transformOutput(g, m, mPlane, ntRow, firstRow, rows, firstCo, c0, c1, cout, bias, out));
            }
        }
        return new Tensor(out, batch, cout, h, wd);
    }

    /**
     * Per-thread arrays, grown to the largest convolution's and kept: U, V and M of the calling thread (some tens
     * of MB, bounded by the budgets) and the transforms' scratch of every thread. Not from the {@link Workspace},
     * which keeps an array per length: its lengths would be one set per convolution shape of the network,
     * hundreds of MB held for the whole sampling.
     */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[7][0]);
    /**
     * Which array: U, V, M; a weight row, its 9 taps laid out over channels, an input tile row's 8 runs, the 4
     * output rows of a tile row.
     */
    private static final int U = 0, V = 1, M = 2, WEIGHT_ROW = 3, TAPS = 4, RUNS = 5, OUTPUTS = 6;

    /** scratch[which], replaced by a larger array when it has fewer than n floats. */
    private static float[] grown(float[][] scratch, int which, int n) {
        if (scratch[which].length < n) scratch[which] = new float[n];
        return scratch[which];
    }

    /** n rounded up to whole vectors. */
    private static int padded(int n) {
        int lanes = S.length();
        return (n + lanes - 1) / lanes * lanes;
    }

    /**
     * The distance between two of the 16 planes of U, V or M holding n floats each: n and a cache line more, so
     * that the planes do not start at the same offset in a 4 KiB page. (The transforms access all 16 at once;
     * at equal offsets they would all map to one L1 set, whose 8 ways they would evict in turn.)
     */
    private static int skewed(int n) {
        return n + 16;
    }

    /**
     * The length of a channel's row of V or M for a chunk of rows tile rows: its tiles, and the whole vectors
     * the transforms take at the end of the last tile row (each tile row is taken in whole vectors).
     */
    private static int tileRowLength(int rows, int tilesW) {
        return padded((rows - 1) * tilesW + padded(tilesW));
    }

    /** The input's and the tiling's sizes. */
    private record Geometry(int cin, int h, int w, int tilesH, int tilesW) {
    }

    /**
     * U[e][co][ci] = (G g Gᵀ)[e] (rows cinRow apart) for the block's output channels [c0, c1), g = weight (co0 + co, ci),
     * G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]. Each weight row (cin kernels of 9) is first laid out
     * as 9 runs over the input channels, so that the transform is vector arithmetic over channels.
     *
     * <p>The vector work is in small methods that take and return no vectors ({@link #weightRow}, and so on):
     * one method doing it all grows past C2's inlining budget, and a vector passed to a call C2 did not inline
     * is boxed, an allocation per vector.
     */
    private static void transformWeights(Weight w, int cin, int cinRow, int co0, int c0, int c1, float[] u, int plane) {
        float[][] scratch = SCRATCH.get();
        float[] g = grown(scratch, WEIGHT_ROW, 9 * cin);
        int lanes = S.length();
        float[] taps = grown(scratch, TAPS, 9 * cinRow);
        for (int co = c0; co < c1; co++) {
            w.read((long) (co0 + co) * cin * 9, g, 0, 9 * cin);
            for (int k = 0; k < 9; k++) {
                for (int ci = 0, t = k * cinRow; ci < cin; ci++) taps[t + ci] = g[9 * ci + k];
            }
            for (int ci = 0; ci < cin; ci += lanes) {
                int o = co * cinRow + ci;
                // G g, row by row: the kernel's top row, half the sum of all three, that less the middle one, the bottom row
                weightRow(taps, cinRow, ci, 1f, 0f, 0f, u, o, plane);
                weightRow(taps, cinRow, ci, 0.5f, 0.5f, 0.5f, u, o + 4 * plane, plane);
                weightRow(taps, cinRow, ci, 0.5f, -0.5f, 0.5f, u, o + 8 * plane, plane);
                weightRow(taps, cinRow, ci, 0f, 0f, 1f, u, o + 12 * plane, plane);
            }
        }
    }

    /**
     * One row of G g Gᵀ for a vector of input channels: the row of G g is top·α + middle·β + bottom·γ of the
     * kernel's rows (taps k, 3 + k, 6 + k for its column k; multiplying by 0, ±½ and 1 is exact), and the row
     * (a, b, c) times Gᵀ is (a, ½(a + b + c), ½(a − b + c), c), at u[o + q·plane].
     */
    private static void weightRow(float[] taps, int run, int ci, float alpha, float beta, float gamma, float[] u, int o, int plane) {
        int top = ci, middle = 3 * run + ci, bottom = 6 * run + ci;
        FloatVector a = FloatVector.fromArray(S, taps, top).mul(alpha)
                .add(FloatVector.fromArray(S, taps, middle).mul(beta)).add(FloatVector.fromArray(S, taps, bottom).mul(gamma));
        FloatVector b = FloatVector.fromArray(S, taps, top + run).mul(alpha)
                .add(FloatVector.fromArray(S, taps, middle + run).mul(beta)).add(FloatVector.fromArray(S, taps, bottom + run).mul(gamma));
        FloatVector c = FloatVector.fromArray(S, taps, top + 2 * run).mul(alpha)
                .add(FloatVector.fromArray(S, taps, middle + 2 * run).mul(beta)).add(FloatVector.fromArray(S, taps, bottom + 2 * run).mul(gamma));
        FloatVector half = a.add(c).mul(0.5f), mid = b.mul(0.5f);
        a.intoArray(u, o);
        half.add(mid).intoArray(u, o + plane);
        half.sub(mid).intoArray(u, o + 2 * plane);
        c.intoArray(u, o + 3 * plane);
    }

    /**
     * V[e][ci][t] = (Bᵀ d B)[e] for the channels [c0, c1) and the chunk's tiles, t = (tile row − firstRow)·tilesW
     * + tile column, d the 4×4 input patch from (2·ty − 1, 2·tx − 1) (zero outside the image),
     * Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
     *
     * <p>The patch columns of tile tx are the input columns 2tx − 1, 2tx, 2tx + 1, 2tx + 2: two odd and two even
     * ones, so each input row is first split into its odd and its even columns, after which every step is a
     * plain vector operation over the tile row.
     */
    private static void transformInput(Geometry g, float[] x, int firstRow, int rows, int c0, int c1, float[] v, int ntRow, int plane) {
        int tw = g.tilesW, lanes = S.length();
        int len = tw + 1 + lanes; // the runs hold tilesW + 1 values, read one past j up to a whole vector
        float[] runs = grown(SCRATCH.get(), RUNS, 8 * len);
        for (int ci = c0; ci < c1; ci++) {
            for (int r = 0; r < rows; r++) {
                int row = firstRow + r, image = row / g.tilesH, ty = row % g.tilesH;
                int base = (image * g.cin + ci) * g.h * g.w;
                for (int i = 0; i < 4; i++) split(x, base, 2 * ty - 1 + i, g.h, g.w, tw, runs, 2 * i * len, (2 * i + 1) * len);
                // a row's last vector runs into the next tile row, which is written after it, or into the padding
                int o = ci * ntRow + r * tw;
                for (int j = 0; j < tw; j += lanes) {
                    // row k of Bᵀ d: d0 − d2, d1 + d2, d2 − d1, d1 − d3 (d the patch's rows), then times B
                    inputRow(runs, len, j, 0, 2, -1f, v, o + j, plane);
                    inputRow(runs, len, j, 1, 2, 1f, v, o + j + 4 * plane, plane);
                    inputRow(runs, len, j, 2, 1, -1f, v, o + j + 8 * plane, plane);
                    inputRow(runs, len, j, 1, 3, -1f, v, o + j + 12 * plane, plane);
                }
            }
        }
    }

    /**
     * One row of Bᵀ d B for a vector of tiles from j on: the row of Bᵀ d is patch row first + sign · patch row
     * second (exact: ±1), its patch columns (c0, c1, c2, c3) = (odd run at j, even run at j, odd at j + 1, even
     * at j + 1); times B that is c0 − c2, c1 + c2, c2 − c1, c1 − c3, at v[at + q·plane].
     */
    private static void inputRow(float[] runs, int len, int j, int first, int second, float sign, float[] v, int at, int plane) {
        // (no helper returning a vector: one C2 did not inline would box it)
        int odd1 = 2 * first * len + j, even1 = odd1 + len, odd2 = 2 * second * len + j, even2 = odd2 + len;
        FloatVector c0 = FloatVector.fromArray(S, runs, odd2).mul(sign).add(FloatVector.fromArray(S, runs, odd1));
        FloatVector c1 = FloatVector.fromArray(S, runs, even2).mul(sign).add(FloatVector.fromArray(S, runs, even1));
        FloatVector c2 = FloatVector.fromArray(S, runs, odd2 + 1).mul(sign).add(FloatVector.fromArray(S, runs, odd1 + 1));
        FloatVector c3 = FloatVector.fromArray(S, runs, even2 + 1).mul(sign).add(FloatVector.fromArray(S, runs, even1 + 1));
        c0.sub(c2).intoArray(v, at);
        c1.add(c2).intoArray(v, at + plane);
        c2.sub(c1).intoArray(v, at + 2 * plane);
        c1.sub(c3).intoArray(v, at + 3 * plane);
    }

    /**
     * Input row iy of the plane at base, split: odd[j] = x(iy, 2j − 1), even[j] = x(iy, 2j) for j up to tilesW,
     * zero outside the image (padding; a whole row of zeros above or below it).
     */
    private static void split(float[] x, int base, int iy, int h, int w, int tw, float[] runs, int odd, int even) {
        if (iy < 0 || iy >= h) {
            Arrays.fill(runs, odd, odd + tw + 1, 0f);
            Arrays.fill(runs, even, even + tw + 1, 0f);
            return;
        }
        int row = base + iy * w, lanes = S.length();
        runs[odd] = 0f;
        runs[even] = x[row];
        int j = 1;
        // whole vectors: 2·lanes input columns from 2j − 1 on, their even lanes the odd run, their odd lanes the even one
        for (; 2 * j - 1 + 2 * lanes <= w; j += lanes) {
            FloatVector a = FloatVector.fromArray(S, x, row + 2 * j - 1), b = FloatVector.fromArray(S, x, row + 2 * j - 1 + lanes);
            a.rearrange(EVEN_LANES, b).intoArray(runs, odd + j);
            a.rearrange(ODD_LANES, b).intoArray(runs, even + j);
        }
        for (; j <= tw; j++) {
            runs[odd + j] = 2 * j - 1 < w ? x[row + 2 * j - 1] : 0f;
            runs[even + j] = 2 * j < w ? x[row + 2 * j] : 0f;
        }
    }

    /** Lanes 0, 2, 4, .. of two vectors side by side (an index past the first vector picks from the second). */
    private static final VectorShuffle<Float> EVEN_LANES = VectorShuffle.fromOp(S, i -> 2 * i);
    /** Lanes 1, 3, 5, .. of two vectors side by side. */
    private static final VectorShuffle<Float> ODD_LANES = VectorShuffle.fromOp(S, i -> 2 * i + 1);
    /** The first halves of two vectors, interleaved: a0, b0, a1, b1, ... */
    private static final VectorShuffle<Float> ZIP_LOW = VectorShuffle.fromOp(S, i -> i / 2 + (i % 2) * S.length());
    /** The second halves of two vectors, interleaved. */
    private static final VectorShuffle<Float> ZIP_HIGH = VectorShuffle.fromOp(S, i -> S.length() / 2 + i / 2 + (i % 2) * S.length());

    /**
     * out(co0 + co) for the block's channels [c0, c1) on the chunk's tiles: Y = Aᵀ m A + bias,
     * Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], each tile's 2×2 written where it lies inside the image.
     */
    private static void transformOutput(Geometry g, float[] m, int plane, int ntRow, int firstRow, int rows, int co0, int c0, int c1,
                                        int cout, float[] bias, float[] out) {
        int tw = g.tilesW, lanes = S.length();
        int len = tw + lanes;
        float[] ys = grown(SCRATCH.get(), OUTPUTS, 4 * len);
        for (int co = c0; co < c1; co++) {
            int oc = co0 + co;
            float bb = bias == null ? 0f : bias[oc];
            for (int r = 0; r < rows; r++) {
                int row = firstRow + r, image = row / g.tilesH, ty = row % g.tilesH;
                int o = co * ntRow + r * tw; // a row's last vector reads on into the next one or the padding
                for (int j = 0; j < tw; j += lanes) {
                    // Aᵀ m: rows 0 + 1 + 2 and 1 − 2 − 3 of the 4×4, each then times A
                    outputRow(m, o + j, plane, 0, 1f, ys, j, len, bb);
                    outputRow(m, o + j, plane, 1, -1f, ys, 2 * len + j, len, bb);
                }
                int plane0 = (image * cout + oc) * g.h * g.w;
                interleave(ys, 0, len, out, plane0 + 2 * ty * g.w, g.w);
                if (2 * ty + 1 < g.h) interleave(ys, 2 * len, 3 * len, out, plane0 + (2 * ty + 1) * g.w, g.w);
            }
        }
    }

    /**
     * One row of Aᵀ m A + bias for a vector of tiles at m[at ..]: the row of Aᵀ m, column q, is m(first, q) +
     * sign · (m(first + 1, q) + m(first + 2, q)), its columns (s0, s1, s2, s3); times A that is the tiles' left pixels
     * s0 + s1 + s2 (to ys[y ..]) and right pixels s1 − s2 − s3 (to ys[y + len ..]).
     */
    private static void outputRow(float[] m, int at, int plane, int first, float sign, float[] ys, int y, int len, float bias) {
        int top = at + 4 * first * plane, mid = top + 4 * plane, last = mid + 4 * plane;
        FloatVector s0 = FloatVector.fromArray(S, m, mid).add(FloatVector.fromArray(S, m, last)).mul(sign)
                .add(FloatVector.fromArray(S, m, top));
        FloatVector s1 = FloatVector.fromArray(S, m, mid + plane).add(FloatVector.fromArray(S, m, last + plane)).mul(sign)
                .add(FloatVector.fromArray(S, m, top + plane));
        FloatVector s2 = FloatVector.fromArray(S, m, mid + 2 * plane).add(FloatVector.fromArray(S, m, last + 2 * plane)).mul(sign)
                .add(FloatVector.fromArray(S, m, top + 2 * plane));
        FloatVector s3 = FloatVector.fromArray(S, m, mid + 3 * plane).add(FloatVector.fromArray(S, m, last + 3 * plane)).mul(sign)
                .add(FloatVector.fromArray(S, m, top + 3 * plane));
        s0.add(s1).add(s2).add(bias).intoArray(ys, y);
        s1.sub(s2).sub(s3).add(bias).intoArray(ys, y + len);
    }

    /** An output row from its tiles' left (ys[left + j]) and right (ys[right + j]) pixels, w pixels. */
    private static void interleave(float[] ys, int left, int right, float[] out, int row, int w) {
        int lanes = S.length(), j = 0;
        for (; 2 * j + 2 * lanes <= w; j += lanes) {
            FloatVector a = FloatVector.fromArray(S, ys, left + j), b = FloatVector.fromArray(S, ys, right + j);
            a.rearrange(ZIP_LOW, b).intoArray(out, row + 2 * j);
            a.rearrange(ZIP_HIGH, b).intoArray(out, row + 2 * j + lanes);
        }
        for (; 2 * j + 1 < w; j++) {
            out[row + 2 * j] = ys[left + j];
            out[row + 2 * j + 1] = ys[right + j];
        }
        if (2 * j < w) out[row + 2 * j] = ys[left + j];
    }
}
