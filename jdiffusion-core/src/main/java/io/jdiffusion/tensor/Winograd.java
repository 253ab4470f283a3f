package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * 3×3 convolution, stride 1, padding 1, by Winograd's minimal filtering F(m×m, 3×3) (Lavin and Gray, 2015):
 * each m×m block of output pixels ("tile") comes from the α×α input patch around it (α = m + 2) as
 * {@code Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A}, α² multiplications per tile and channel pair where the direct
 * convolution does 9m². Over channels the α² elementwise products are α² independent matrix products,
 * {@code M_e[Cout, tiles] = U_e[Cout, Cin] · V_e[Cin, tiles]}, which run on the GEMM's kernels.
 *
 * <p>Two tile sizes ({@link Tile}, chosen by {@link #tileFor}): F(2×2) (16 products per 4 outputs, 2.25× fewer
 * multiply-adds than the implicit GEMM of {@link Convolution}; its transforms use only ±1 and ½, so the result
 * differs from the direct sum by rounding alone) everywhere but the large maps of a VAE decode, which take
 * F(4×4) (36 per 16, 4× fewer; its coefficients up to 8 and 1/24 cost it about ten times the direct sum's
 * rounding, some 10⁻⁶ of the output). F(2×2)'s transforms are written out by hand; F(4×4)'s are applied as
 * sums of rows ({@link #combine}), general but slower: the same sums made F(2×2) convolutions 1.1–1.5× slower
 * on the UNet's shapes, where the maps are small and the runs short, but do not limit F(4×4) on its large maps.
 *
 * <p>Memory stays bounded at any image size: the tiles go in chunks of whole tile rows, the output channels in
 * blocks, so that V, M (α² values per tile and channel) and U stay within a few tens of MB.
 */
final class Winograd {
    private Winograd() {
    }

    /**
     * One tile size: m×m outputs from an α×α patch, and the three transforms (rows of Bᵀ, G and Aᵀ), from the
     * interpolation points 0, ±1 (F(2×2)) and 0, ±1, ±2 (F(4×4)), and ∞.
     */
    record Tile(int m, float[][] bt, float[][] g, float[][] at) {
        int alpha() {
            return m + 2;
        }

        /** Planes of U, V and M: elements of the transformed patch. */
        int planes() {
            return (m + 2) * (m + 2);
        }
    }

    static final Tile F2 = new Tile(2,
            new float[][]{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}},
            new float[][]{{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}},
            new float[][]{{1, 1, 1, 0}, {0, 1, -1, -1}});

    static final Tile F4 = new Tile(4,
            new float[][]{
                    {4, 0, -5, 0, 1, 0},
                    {0, -4, -4, 1, 1, 0},
                    {0, 4, -4, -1, 1, 0},
                    {0, -2, -1, 2, 1, 0},
                    {0, 2, -1, -2, 1, 0},
                    {0, 4, 0, -5, 0, 1}},
            new float[][]{
                    {1f / 4, 0, 0},
                    {-1f / 6, -1f / 6, -1f / 6},
                    {-1f / 6, 1f / 6, -1f / 6},
                    {1f / 24, 1f / 12, 1f / 6},
                    {1f / 24, -1f / 12, 1f / 6},
                    {0, 0, 1}},
            new float[][]{
                    {1, 1, 1, 1, 1, 0},
                    {0, 1, -1, 2, -2, 0},
                    {0, 1, 1, 4, 4, 0},
                    {0, 1, -1, 8, -8, 1}});

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

    /**
     * The tile size for a map of h×w: F(4×4) from 128×128 on (a VAE decode's three largest levels; in one process,
     * alternating: 0.72–0.91 of F(2×2)'s time there; 0.86–1.04 on the UNet's 64×64 level, but a 512² UNet step
     * taking it there was 1.03× as long, 8 pairs; 1.1–1.5 at 16×16, where F(4×4)'s products are a quarter as wide
     * and its weight transform 2.25× as large), F(2×2) below
     * ({@code -Djdiffusion.winograd4=false}: F(2×2) everywhere).
     */
    static Tile tileFor(int h, int w) {
        return Variants.winograd4 && h >= 128 && w >= 128 ? F4 : F2;
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    static Tensor conv3x3(MicroKernels mk, Gemm.Blocking blk, Tensor x, Weight w, Weight b) {
        return conv3x3(mk, blk, tileFor(x.dim(2), x.dim(3)), x, w, b, CHUNK_BYTES, WEIGHT_BYTES);
    }

    static Tensor conv3x3(MicroKernels mk, Gemm.Blocking blk, Tile tile, Tensor x, Weight w, Weight b) {
        return conv3x3(mk, blk, tile, x, w, b, CHUNK_BYTES, WEIGHT_BYTES);
    }

    /**
     * With the budgets for V and M together per chunk of tiles (chunkBytes) and for U (weightBytes); F(2×2) by its
     * written-out transforms unless general is set (tests: the sums of rows checked on F(2×2) too).
     */
    static Tensor conv3x3(MicroKernels mk, Gemm.Blocking blk, Tile tile, Tensor x, Weight w, Weight b, long chunkBytes, long weightBytes) {
        return conv3x3(mk, blk, tile, tile != F2, x, w, b, chunkBytes, weightBytes);
    }

    static Tensor conv3x3(MicroKernels mk, Gemm.Blocking blk, Tile tile, boolean general, Tensor x, Weight w, Weight b,
                          long chunkBytes, long weightBytes) {
        if (!general && tile != F2) throw new IllegalArgumentException("only F(2×2) has written-out transforms");
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = w.dim(0), tm = tile.m(), planes = tile.planes();
        int tilesH = (h + tm - 1) / tm, tilesW = (wd + tm - 1) / tm, tileRows = batch * tilesH;
        float[] bias = b == null ? null : b.toFloats();
        float[] out = Workspace.floats(batch * cout * h * wd);

        int coutBlock = (int) Math.min(cout, Math.max(mk.maxMr, weightBytes / (4L * planes * cin)));
        int coutBlocks = (cout + coutBlock - 1) / coutBlock;
        coutBlock = (cout + coutBlocks - 1) / coutBlocks;
        int rowsPerChunk = (int) Math.max(1, Math.min(tileRows, chunkBytes / (4L * planes * tilesW * (cin + coutBlock))));
        int chunks = (tileRows + rowsPerChunk - 1) / rowsPerChunk;
        rowsPerChunk = (tileRows + chunks - 1) / chunks;
        // rows of U, V and M padded to whole vectors: the transforms read and write whole vectors only (masked
        // ones cost a vector's boxing in C2 when the mask may be absent, and masked stores are slow on AMD)
        int cinRow = padded(cin), maxTileRow = tileRowLength(rowsPerChunk, tilesW);

        float[][] scratch = SCRATCH.get();
        float[] u = grown(scratch, U, planes * skewed(coutBlock * cinRow));
        float[] v = grown(scratch, V, planes * skewed(cin * maxTileRow));
        float[] m = grown(scratch, M, planes * skewed(coutBlock * maxTileRow));
        Geometry g = new Geometry(tile, cin, h, wd, tilesH, tilesW);
        for (int co0 = 0; co0 < cout; co0 += coutBlock) {
            int cb = Math.min(coutBlock, cout - co0), firstCo = co0;
            int uPlane = skewed(cb * cinRow);
            Parallel.forRange(cb, 4, (c0, c1) -> {
                if (general) weightsBySums(tile, w, cin, cinRow, firstCo, c0, c1, u, uPlane);
                else transformWeights(w, cin, cinRow, firstCo, c0, c1, u, uPlane);
            });
            for (int r0 = 0; r0 < tileRows; r0 += rowsPerChunk) {
                int rows = Math.min(rowsPerChunk, tileRows - r0), firstRow = r0, nt = rows * tilesW, ntRow = tileRowLength(rows, tilesW);
                int vPlane = skewed(cin * ntRow), mPlane = skewed(cb * ntRow);
                // one chunk: its V serves every block of output channels
                if (chunks > 1 || co0 == 0) {
                    Parallel.forRange(cin, 1, (c0, c1) -> {
                        if (general) inputBySums(g, x.data, firstRow, rows, c0, c1, v, ntRow, vPlane);
                        else transformInput(g, x.data, firstRow, rows, c0, c1, v, ntRow, vPlane);
                    });
                }
                Parallel.forRange(planes, 1, (e0, e1) -> {
                    for (int e = e0; e < e1; e++) {
                        Gemm.runSerial(mk, blk, cb, nt, cin, new Gemm.RowMajorA(u, e * uPlane, cinRow),
                                new Gemm.RowMajorB(v, e * vPlane, ntRow), Gemm.Out.rowMajor(m, e * mPlane, ntRow));
                    }
                });
                Parallel.forRange(cb, 1, (c0, c1) -> {
                    if (general) outputBySums(g, m, mPlane, ntRow, firstRow, rows, firstCo, c0, c1, cout, bias, out);
                    else transformOutput(g, m, mPlane, ntRow, firstRow, rows, firstCo, c0, c1, cout, bias, out);
                });
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
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[9][0]);
    /**
     * Which array: U, V, M; a weight row, its 9 taps laid out over channels, an input tile row's column runs, the
     * output rows of a tile row; the first of two passes of a transform by sums of rows (weights; input or output).
     */
    private static final int U = 0, V = 1, M = 2, WEIGHT_ROW = 3, TAPS = 4, RUNS = 5, OUTPUTS = 6, WEIGHT_PASS = 7, PASS = 8;
    /** Per-thread offsets of one sum's terms (at most α). */
    private static final ThreadLocal<int[]> OFFSETS = ThreadLocal.withInitial(() -> new int[8]);

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

    /** The tile size, the input's sizes and the tiling's. */
    private record Geometry(Tile tile, int cin, int h, int w, int tilesH, int tilesW) {
    }

    // ---- F(2×2)'s transforms, written out ----

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
            layOutTaps(w, co0 + co, cin, cinRow, g, taps);
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

    /** Weight row co (cin kernels of 9, converted into g) laid out as 9 runs over the input channels: taps[k·cinRow + ci]. */
    private static void layOutTaps(Weight w, int co, int cin, int cinRow, float[] g, float[] taps) {
        w.read((long) co * cin * 9, g, 0, 9 * cin);
        for (int k = 0; k < 9; k++) {
            for (int ci = 0, t = k * cinRow; ci < cin; ci++) taps[t + ci] = g[9 * ci + k];
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

    // ---- any tile size: transforms as sums of rows ----

    /**
     * dst[at + j] = add + Σ_t coef[t] · src[offsets[t] + j] for j in [0, count) rounded up to whole vectors: one
     * row of a transform applied to a run of values at once. The terms with a nonzero coefficient (one to five)
     * go to a loop written out for their number: a loop over the terms inside the loop over the run costs more
     * than the arithmetic on runs this short (one to four vectors of tiles).
     *
     * <p>The loops take and return no vectors: a vector passed to a call C2 did not inline is boxed, an
     * allocation per vector, and one method doing a whole transform grows past C2's inlining budget.
     */
    private static void combine(float[] src, int[] offsets, float[] coef, float[] dst, int at, int count, float add) {
        int n = 0, o0 = 0, o1 = 0, o2 = 0, o3 = 0, o4 = 0;
        float k0 = 0, k1 = 0, k2 = 0, k3 = 0, k4 = 0;
        for (int t = 0; t < coef.length; t++) {
            float k = coef[t];
            if (k == 0f) continue;
            int o = offsets[t];
            switch (n++) {
                case 0 -> { o0 = o; k0 = k; }
                case 1 -> { o1 = o; k1 = k; }
                case 2 -> { o2 = o; k2 = k; }
                case 3 -> { o3 = o; k3 = k; }
                case 4 -> { o4 = o; k4 = k; }
                default -> throw new IllegalStateException("a transform row of more than five terms");
            }
        }
        switch (n) {
            case 1 -> sum1(src, o0, k0, dst, at, count, add);
            case 2 -> sum2(src, o0, k0, o1, k1, dst, at, count, add);
            case 3 -> sum3(src, o0, k0, o1, k1, o2, k2, dst, at, count, add);
            case 4 -> sum4(src, o0, k0, o1, k1, o2, k2, o3, k3, dst, at, count, add);
            default -> sum5(src, o0, k0, o1, k1, o2, k2, o3, k3, o4, k4, dst, at, count, add);
        }
    }

    /** {@link #combine}'s sums of one to five terms over the run. */
    private static void sum1(float[] s, int o0, float k0, float[] d, int at, int count, float add) {
        for (int j = 0; j < count; j += S.length()) {
            FloatVector.fromArray(S, s, o0 + j).mul(k0).add(add).intoArray(d, at + j);
        }
    }

    private static void sum2(float[] s, int o0, float k0, int o1, float k1, float[] d, int at, int count, float add) {
        for (int j = 0; j < count; j += S.length()) {
            FloatVector.fromArray(S, s, o0 + j).mul(k0).add(FloatVector.fromArray(S, s, o1 + j).mul(k1)).add(add).intoArray(d, at + j);
        }
    }

    private static void sum3(float[] s, int o0, float k0, int o1, float k1, int o2, float k2, float[] d, int at, int count, float add) {
        for (int j = 0; j < count; j += S.length()) {
            FloatVector.fromArray(S, s, o0 + j).mul(k0).add(FloatVector.fromArray(S, s, o1 + j).mul(k1))
                    .add(FloatVector.fromArray(S, s, o2 + j).mul(k2)).add(add).intoArray(d, at + j);
        }
    }

    private static void sum4(float[] s, int o0, float k0, int o1, float k1, int o2, float k2, int o3, float k3,
                             float[] d, int at, int count, float add) {
        for (int j = 0; j < count; j += S.length()) {
            FloatVector.fromArray(S, s, o0 + j).mul(k0).add(FloatVector.fromArray(S, s, o1 + j).mul(k1))
                    .add(FloatVector.fromArray(S, s, o2 + j).mul(k2).add(FloatVector.fromArray(S, s, o3 + j).mul(k3)))
                    .add(add).intoArray(d, at + j);
        }
    }

    private static void sum5(float[] s, int o0, float k0, int o1, float k1, int o2, float k2, int o3, float k3, int o4, float k4,
                             float[] d, int at, int count, float add) {
        for (int j = 0; j < count; j += S.length()) {
            FloatVector.fromArray(S, s, o0 + j).mul(k0).add(FloatVector.fromArray(S, s, o1 + j).mul(k1))
                    .add(FloatVector.fromArray(S, s, o2 + j).mul(k2).add(FloatVector.fromArray(S, s, o3 + j).mul(k3)))
                    .add(FloatVector.fromArray(S, s, o4 + j).mul(k4)).add(add).intoArray(d, at + j);
        }
    }

    /**
     * U[e][co][ci] = (G g Gᵀ)[e] (rows cinRow apart) for the block's output channels [c0, c1), g = weight
     * (co0 + co, ci). Each weight row (cin kernels of 9) is first laid out as 9 runs over the input channels
     * (taps), then G is applied to the kernel's rows (α × 3 runs), then to their columns (α² runs, one per plane).
     */
    private static void weightsBySums(Tile tile, Weight w, int cin, int cinRow, int co0, int c0, int c1, float[] u, int plane) {
        float[][] scratch = SCRATCH.get();
        int alpha = tile.alpha();
        float[] g = grown(scratch, WEIGHT_ROW, 9 * cin);
        float[] taps = grown(scratch, TAPS, 9 * cinRow);
        float[] gg = grown(scratch, WEIGHT_PASS, 3 * alpha * cinRow);
        int[] offsets = OFFSETS.get();
        for (int co = c0; co < c1; co++) {
            layOutTaps(w, co0 + co, cin, cinRow, g, taps);
            // (G g)[a][col] = Σ_r G[a][r] · g[r][col]
            for (int a = 0; a < alpha; a++) {
                for (int col = 0; col < 3; col++) {
                    for (int r = 0; r < 3; r++) offsets[r] = (3 * r + col) * cinRow;
                    combine(taps, offsets, tile.g[a], gg, (3 * a + col) * cinRow, cin, 0f);
                }
            }
            // U[a][c] = Σ_col (G g)[a][col] · G[c][col]
            for (int a = 0; a < alpha; a++) {
                for (int col = 0; col < 3; col++) offsets[col] = (3 * a + col) * cinRow;
                for (int c = 0; c < alpha; c++) combine(gg, offsets, tile.g[c], u, (alpha * a + c) * plane + co * cinRow, cin, 0f);
            }
        }
    }

    /**
     * V[e][ci][t] = (Bᵀ d B)[e] for the channels [c0, c1) and the chunk's tiles, t = (tile row − firstRow)·tilesW
     * + tile column, d the α×α input patch from (m·ty − 1, m·tx − 1) (zero outside the image).
     *
     * <p>Column c of tile tx's patch is input column m·tx − 1 + c, i.e. run (c mod m) at tx + c / m once each
     * input row is split into its m column phases (run p holding columns m·j − 1 + p); after that every step is
     * vector arithmetic over the tile row: Bᵀ on each patch row's columns (α² runs), then on the rows.
     */
    private static void inputBySums(Geometry g, float[] x, int firstRow, int rows, int c0, int c1, float[] v, int ntRow, int plane) {
        Tile tile = g.tile;
        int m = tile.m, alpha = tile.alpha(), tw = g.tilesW;
        int len = runLength(tw), twRow = padded(tw);
        float[][] scratch = SCRATCH.get();
        float[] runs = grown(scratch, RUNS, alpha * m * len);
        float[] pass = grown(scratch, PASS, alpha * alpha * twRow);
        int[] offsets = OFFSETS.get();
        for (int ci = c0; ci < c1; ci++) {
            for (int r = 0; r < rows; r++) {
                int row = firstRow + r, image = row / g.tilesH, ty = row % g.tilesH;
                int base = (image * g.cin + ci) * g.h * g.w;
                for (int i = 0; i < alpha; i++) splitPhases(x, base, m * ty - 1 + i, g.h, g.w, m, tw, runs, i * m * len, len);
                // (d Bᵀ-wise) pass[i][q] = Σ_c Bᵀ[q][c] · d[i][c]
                for (int i = 0; i < alpha; i++) {
                    for (int c = 0; c < alpha; c++) offsets[c] = (i * m + c % m) * len + c / m;
                    for (int q = 0; q < alpha; q++) combine(runs, offsets, tile.bt[q], pass, (alpha * i + q) * twRow, tw, 0f);
                }
                // V[p][q] = Σ_i Bᵀ[p][i] · pass[i][q]; a row's last vector runs into the next tile row, which is
                // written after it, or into the padding
                int o = ci * ntRow + r * tw;
                for (int q = 0; q < alpha; q++) {
                    for (int i = 0; i < alpha; i++) offsets[i] = (alpha * i + q) * twRow;
                    for (int p = 0; p < alpha; p++) combine(pass, offsets, tile.bt[p], v, (alpha * p + q) * plane + o, tw, 0f);
                }
            }
        }
    }

    /** The length of a phase run for tw tiles: tw + 1 values, read one past j up to a whole vector. */
    private static int runLength(int tw) {
        return tw + 1 + S.length();
    }

    /**
     * Input row iy of the plane at base, split into its m column phases: run p (at runs[at + p·len ..]) holds
     * x(iy, m·j − 1 + p) for j up to tilesW, zero outside the image (padding; a whole row of zeros above or
     * below it). In whole vectors for m = 4, value by value otherwise. F(2×2) has its own {@link #split}: one
     * method for both phase counts made F(2×2) convolutions 1.03–1.3× slower (one process, alternating, median of
     * 11), as did one {@link #interleavePhases} for both.
     */
    private static void splitPhases(float[] x, int base, int iy, int h, int w, int m, int tw, float[] runs, int at, int len) {
        if (iy < 0 || iy >= h) {
            for (int p = 0; p < m; p++) Arrays.fill(runs, at + p * len, at + p * len + tw + 1, 0f);
            return;
        }
        int row = base + iy * w, lanes = S.length();
        for (int p = 0; p < m; p++) runs[at + p * len] = p >= 1 && p - 1 < w ? x[row + p - 1] : 0f; // j = 0: column −1 is padding
        int j = 1;
        if (m == 4) {
            // 4·lanes columns from 4j − 1 on: split into even and odd columns twice
            for (; 4 * j - 1 + 4 * lanes <= w; j += lanes) {
                int from = row + 4 * j - 1;
                FloatVector a = FloatVector.fromArray(S, x, from), b = FloatVector.fromArray(S, x, from + lanes);
                FloatVector c = FloatVector.fromArray(S, x, from + 2 * lanes), d = FloatVector.fromArray(S, x, from + 3 * lanes);
                FloatVector evenAb = a.rearrange(EVEN_LANES, b), oddAb = a.rearrange(ODD_LANES, b);
                FloatVector evenCd = c.rearrange(EVEN_LANES, d), oddCd = c.rearrange(ODD_LANES, d);
                evenAb.rearrange(EVEN_LANES, evenCd).intoArray(runs, at + j);
                oddAb.rearrange(EVEN_LANES, oddCd).intoArray(runs, at + len + j);
                evenAb.rearrange(ODD_LANES, evenCd).intoArray(runs, at + 2 * len + j);
                oddAb.rearrange(ODD_LANES, oddCd).intoArray(runs, at + 3 * len + j);
            }
        }
        for (; j <= tw; j++) {
            for (int p = 0; p < m; p++) {
                int col = m * j - 1 + p;
                runs[at + p * len + j] = col >= 0 && col < w ? x[row + col] : 0f;
            }
        }
    }

    /**
     * out(co0 + co) for the block's channels [c0, c1) on the chunk's tiles: Y = Aᵀ m A + bias, Aᵀ on the columns
     * of each plane row (m × α runs), then on the rows (m² runs: row i, column phase k), and each tile's m×m
     * written where it lies inside the image.
     */
    private static void outputBySums(Geometry g, float[] mm, int plane, int ntRow, int firstRow, int rows, int co0, int c0, int c1,
                                     int cout, float[] bias, float[] out) {
        Tile tile = g.tile;
        int m = tile.m, alpha = tile.alpha(), tw = g.tilesW;
        int twRow = padded(tw), len = tw + S.length();
        float[][] scratch = SCRATCH.get();
        float[] pass = grown(scratch, PASS, m * alpha * twRow);
        float[] ys = grown(scratch, OUTPUTS, m * m * len);
        int[] offsets = OFFSETS.get();
        for (int co = c0; co < c1; co++) {
            int oc = co0 + co;
            float bb = bias == null ? 0f : bias[oc];
            for (int r = 0; r < rows; r++) {
                int row = firstRow + r, image = row / g.tilesH, ty = row % g.tilesH;
                int o = co * ntRow + r * tw; // a row's last vector reads on into the next one or the padding
                // pass[i][q] = Σ_p Aᵀ[i][p] · M[p][q]
                for (int q = 0; q < alpha; q++) {
                    for (int p = 0; p < alpha; p++) offsets[p] = (alpha * p + q) * plane + o;
                    for (int i = 0; i < m; i++) combine(mm, offsets, tile.at[i], pass, (alpha * i + q) * twRow, tw, 0f);
                }
                // Y[i][k] = Σ_q Aᵀ[k][q] · pass[i][q] + bias
                for (int i = 0; i < m; i++) {
                    for (int q = 0; q < alpha; q++) offsets[q] = (alpha * i + q) * twRow;
                    for (int k = 0; k < m; k++) combine(pass, offsets, tile.at[k], ys, (m * i + k) * len, tw, bb);
                }
                int plane0 = (image * cout + oc) * g.h * g.w;
                for (int i = 0; i < m && m * ty + i < g.h; i++) {
                    interleavePhases(ys, m * i * len, len, m, out, plane0 + (m * ty + i) * g.w, g.w);
                }
            }
        }
    }

    /**
     * An output row from its tiles' column phases: pixel m·j + k from ys[at + k·len + j], w pixels; in whole vectors
     * for m = 4, value by value otherwise (F(2×2) has its own {@link #interleave}, see {@link #splitPhases}).
     */
    private static void interleavePhases(float[] ys, int at, int len, int m, float[] out, int row, int w) {
        int lanes = S.length(), j = 0;
        if (m == 4) {
            // phases 0 and 2 interleaved, 1 and 3 interleaved, then those two
            for (; 4 * j + 4 * lanes <= w; j += lanes) {
                FloatVector y0 = FloatVector.fromArray(S, ys, at + j), y1 = FloatVector.fromArray(S, ys, at + len + j);
                FloatVector y2 = FloatVector.fromArray(S, ys, at + 2 * len + j), y3 = FloatVector.fromArray(S, ys, at + 3 * len + j);
                FloatVector low02 = y0.rearrange(ZIP_LOW, y2), high02 = y0.rearrange(ZIP_HIGH, y2);
                FloatVector low13 = y1.rearrange(ZIP_LOW, y3), high13 = y1.rearrange(ZIP_HIGH, y3);
                int o = row + 4 * j;
                low02.rearrange(ZIP_LOW, low13).intoArray(out, o);
                low02.rearrange(ZIP_HIGH, low13).intoArray(out, o + lanes);
                high02.rearrange(ZIP_LOW, high13).intoArray(out, o + 2 * lanes);
                high02.rearrange(ZIP_HIGH, high13).intoArray(out, o + 3 * lanes);
            }
        }
        for (; m * j < w; j++) {
            for (int k = 0; k < m && m * j + k < w; k++) out[row + m * j + k] = ys[at + k * len + j];
        }
    }
}
