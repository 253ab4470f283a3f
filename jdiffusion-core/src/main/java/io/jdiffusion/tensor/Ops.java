package io.jdiffusion.tensor;

/**
 * The operations the networks are built from. Feature maps are NCHW, token sequences [B, T, C];
 * weights are in PyTorch's layout (linear [out, in], conv [out, in, kh, kw]) and stay in their stored
 * dtype. Every op returns a new tensor unless its name ends in InPlace; inside a {@link Workspace} its array
 * comes from the workspace.
 */
public final class Ops {
    private Ops() {
    }

    /**
     * Runs every kernel on tiny inputs until the JIT has compiled it (about a second on one core). A cold
     * JVM runs Vector API code some 50× slower, so without this the first large calls (the first UNet
     * step) take seconds each. Call it once at start, e.g. on a background thread while the model loads.
     */
    public static void warmUp() {
        WarmUp.run();
    }

    /** y = x·Wᵀ + b over the last dim: x [..., K], w [N, K], b [N] or null → [..., N]. */
    public static Tensor linear(Tensor x, Weight w, Weight b) {
        long t0 = OpProfile.start();
        try {
            FlopCounter.linear(x, w);
            int k = x.dim(-1);
            int n = w.dim(0);
            if (w.rank() != 2 || w.dim(1) != k) throw new IllegalArgumentException(w.name() + " " + w.shapeString() + " applied to " + x);
            int m = x.numel() / k;
            float[] bias = b == null ? null : b.toFloats();
            float[] out = Workspace.floats(m * n);
            if (transposedPays(m, n)) {
                float[] outT = Workspace.floats(n * m);
                Gemm.weightTimes(n, m, k, w, x.data, 0, k, bias, outT);
                transposeEach(1, n, m, outT, out);
                Workspace.release(outT);
            } else {
                Gemm.gemm(m, n, k, x.data, 0, k, w, bias, out, 0, n, false);
            }
            int[] shape = x.shape.clone();
            shape[shape.length - 1] = n;
            return new Tensor(out, shape);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "linear " + x.numel() / x.dim(-1) + "x" + w.dim(0) + "x" + x.dim(-1));
        }
    }

    /**
     * Whether a linear layer on m rows is faster as Yᵀ = W·Xᵀ. Computed as X·Wᵀ, every thread converts and
     * transposes its share of the weight into packed panels, and with few rows each panel serves only m/mr
     * register tiles; transposed, the weight is packed by plain row conversion and the few input rows are
     * the ones transposed (plus the output, once). Measured (KernelBench, 2 threads, Zen 4): 1.3× at 128
     * rows (the UNet's 8² level), 1.6× at 32 rows, none at 154, a loss at 512. On Zen 3 (one process,
     * alternating, time transposed / direct): 154 rows (a guided prompt's tokens) 0.83–0.89 with 3072 or
     * 5120 outputs or depth, 1.0 at 768 by 768; 256 rows 0.93–0.96; 200 and 300 rows 1.0; 512 rows 1.03.
     */
    private static boolean transposedPays(int m, int n) {
        return m >= 16 && m <= 256 && n >= 2 * m;
    }

    /** 2-D convolution, NCHW, square stride and zero padding; w [Cout, Cin, kh, kw]. */
    public static Tensor conv2d(Tensor x, Weight w, Weight b, int stride, int padding) {
        long t0 = OpProfile.start();
        try {
            FlopCounter.conv2d(x, w, stride, padding);
            int cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
            int kh = w.dim(2), kw = w.dim(3);
            if (w.rank() != 4 || w.dim(1) != cin) throw new IllegalArgumentException(w.name() + " " + w.shapeString() + " applied to " + x);
            int oh = (h + 2 * padding - kh) / stride + 1, ow = (wd + 2 * padding - kw) / stride + 1;
            return Convolution.conv2d(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, x, w, b, stride, padding, padding, oh, ow);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "conv" + w.dim(2) + "x" + w.dim(3) + "/" + stride + " " + x.dim(1) + "->" + w.dim(0) + " @" + x.dim(2) + "x" + x.dim(3));
        }
    }

    /**
     * Zero padding of an NCHW tensor: {@code left}/{@code right} columns and {@code top}/{@code bottom} rows
     * (for the asymmetric padding before a stride-2 convolution without padding of its own).
     */
    public static Tensor pad(Tensor x, int left, int right, int top, int bottom) {
        long t0 = OpProfile.start();
        try {
            int planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
            int oh = h + top + bottom, ow = w + left + right;
            float[] o = Workspace.zeros(planes * oh * ow);
            for (int p = 0; p < planes; p++) {
                for (int y = 0; y < h; y++) System.arraycopy(x.data, (p * h + y) * w, o, (p * oh + y + top) * ow + left, w);
            }
            return new Tensor(o, x.dim(0), x.dim(1), oh, ow);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "pad");
        }
    }

    /** GroupNorm over NCHW (or [B, C] / [B, C, L]), optionally followed by SiLU. */
    public static Tensor groupNorm(Tensor x, int groups, Weight gamma, Weight beta, float eps, boolean silu) {
        long t0 = OpProfile.start();
        try {
            int batch = x.dim(0), c = x.dim(1);
            int spatial = x.numel() / (batch * c);
            int cpg = c / groups;
            float[] g = gamma.toFloats(), bt = beta.toFloats();
            float[] out = Workspace.floats(x.numel());
            float[] xd = x.data;
            Pointwise.Activation f = silu ? Pointwise.Activation.SILU : Pointwise.Activation.NONE;
            Parallel.forRange(batch * groups, 1, (p0, p1) -> {
                for (int p = p0; p < p1; p++) {
                    int n = p / groups, gi = p % groups;
                    int base = (n * c + gi * cpg) * spatial;
                    int len = cpg * spatial;
                    float mean = (float) (Pointwise.sum(xd, base, len) / len);
                    double var = Pointwise.sumSquaredDeviations(xd, base, len, mean) / len;
                    float inv = (float) (1.0 / Math.sqrt(var + eps));
                    for (int ch = 0; ch < cpg; ch++) {
                        int cc = gi * cpg + ch;
                        int o = base + ch * spatial;
                        Pointwise.normalize(xd, o, out, o, spatial, mean, g[cc] * inv, bt[cc], f);
                    }
                }
            });
            return new Tensor(out, x.shape);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "groupNorm" + (silu ? "+silu" : ""));
        }
    }

    /** LayerNorm over the last dim. */
    public static Tensor layerNorm(Tensor x, Weight gamma, Weight beta, float eps) {
        long t0 = OpProfile.start();
        try {
            int c = x.dim(-1);
            int rows = x.numel() / c;
            float[] g = gamma.toFloats(), bt = beta.toFloats();
            float[] out = Workspace.floats(x.numel());
            float[] xd = x.data;
            Parallel.forRange(rows, Math.max(1, Pointwise.CHUNK / c), (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    int o = r * c;
                    float mean = (float) (Pointwise.sum(xd, o, c) / c);
                    double var = Pointwise.sumSquaredDeviations(xd, o, c, mean) / c;
                    float inv = (float) (1.0 / Math.sqrt(var + eps));
                    Pointwise.normalizeAffine(xd, o, out, o, c, mean, inv, g, bt);
                }
            });
            return new Tensor(out, x.shape);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "layerNorm");
        }
    }

    /**
     * Multi-head scaled dot-product attention: q [B, Tq, C], k and v [B, Tk, C], C split into
     * {@code heads} heads; scale 1/sqrt(C/heads); causal masks key j > query i. Returns [B, Tq, C].
     */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        long t0 = OpProfile.start();
        try {
            FlopCounter.attention(q, k, heads);
            return Attention.attention(MicroKernels.PREFERRED, Attention.Tiles.DEFAULT, q, k, v, heads, causal);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "attention q" + q.dim(1) + " k" + k.dim(1) + " c" + q.dim(2));
        }
    }

    public static Tensor silu(Tensor x) {
        return activation(x, Pointwise.Activation.SILU);
    }

    /** GELU with the exact erf, as torch's default. */
    public static Tensor gelu(Tensor x) {
        return activation(x, Pointwise.Activation.GELU);
    }

    /** CLIP's quick GELU: x·sigmoid(1.702x). */
    public static Tensor quickGelu(Tensor x) {
        return activation(x, Pointwise.Activation.QUICK_GELU);
    }

    private static Tensor activation(Tensor x, Pointwise.Activation f) {
        long t0 = OpProfile.start();
        try {
            float[] o = Workspace.floats(x.numel());
            float[] xd = x.data;
            int n = o.length;
            int chunks = (n + Pointwise.CHUNK - 1) / Pointwise.CHUNK;
            Parallel.forRange(chunks, 1, (c0, c1) -> {
                int from = c0 * Pointwise.CHUNK, to = Math.min(n, c1 * Pointwise.CHUNK);
                Pointwise.apply(f, xd, from, o, from, to - from);
            });
            return new Tensor(o, x.shape);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "activation " + f);
        }
    }

    /** GEGLU: the last dim holds [hidden | gate]; returns hidden·gelu(gate), half as wide. */
    public static Tensor geglu(Tensor x) {
        long t0 = OpProfile.start();
        try {
            int c2 = x.dim(-1), c = c2 / 2;
            int rows = x.numel() / c2;
            float[] o = Workspace.floats(rows * c);
            float[] xd = x.data;
            Parallel.forRange(rows, Math.max(1, Pointwise.CHUNK / c), (r0, r1) -> {
                for (int r = r0; r < r1; r++) Pointwise.mulGelu(xd, r * c2, xd, r * c2 + c, o, r * c, c);
            });
            int[] s = x.shape.clone();
            s[s.length - 1] = c;
            return new Tensor(o, s);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "geglu");
        }
    }

    /** erf in double precision (W. J. Cody's rational approximations are overkill here; this series/continued
     * fraction pair is accurate to ~1e-15 over the whole line). */
    public static double erf(double x) {
        double ax = Math.abs(x);
        double r;
        if (ax < 2.5) {
            // Maclaurin series: erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 60; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            r = 2.0 / Math.sqrt(Math.PI) * sum;
        } else if (ax < 6) {
            // continued fraction for erfc, evaluated bottom-up (Lentz not needed at this depth)
            double f = 0;
            for (int n = 60; n >= 1; n--) f = n / 2.0 / (ax + f);
            r = 1.0 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
        } else {
            r = 1.0;
        }
        return x < 0 ? -r : r;
    }

    public static Tensor add(Tensor a, Tensor b) {
        Tensor o = new Tensor(Workspace.floats(a.numel()), a.shape);
        System.arraycopy(a.data, 0, o.data, 0, a.numel());
        addInPlace(o, b);
        return o;
    }

    public static void addInPlace(Tensor a, Tensor b) {
        long t0 = OpProfile.start();
        try {
            if (a.numel() != b.numel()) throw new IllegalArgumentException("add " + a + " + " + b);
            float[] ad = a.data, bd = b.data;
            int n = ad.length;
            int chunks = (n + Pointwise.CHUNK - 1) / Pointwise.CHUNK;
            Parallel.forRange(chunks, 1, (c0, c1) -> {
                for (int i = c0 * Pointwise.CHUNK, end = Math.min(n, c1 * Pointwise.CHUNK); i < end; i++) ad[i] += bd[i];
            });
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "addInPlace");
        }
    }

    public static void scaleInPlace(Tensor a, float s) {
        long t0 = OpProfile.start();
        try {
            for (int i = 0; i < a.data.length; i++) a.data[i] *= s;
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "scaleInPlace");
        }
    }

    /** x [B, C, H, W] += v [B, C] broadcast over H, W (the timestep embedding in a ResNet block). */
    public static void addPerChannelInPlace(Tensor x, Tensor v) {
        long t0 = OpProfile.start();
        try {
            int batch = x.dim(0), c = x.dim(1), spatial = x.numel() / (batch * c);
            for (int n = 0; n < batch; n++) {
                for (int ch = 0; ch < c; ch++) {
                    float add = v.data[n * c + ch];
                    int o = (n * c + ch) * spatial;
                    for (int i = 0; i < spatial; i++) x.data[o + i] += add;
                }
            }
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "addPerChannelInPlace");
        }
    }

    /** Nearest-neighbour upsampling by 2 of an NCHW tensor. */
    public static Tensor upsampleNearest2x(Tensor x) {
        long t0 = OpProfile.start();
        try {
            int batch = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
            float[] o = Workspace.floats(batch * c * h * w * 4);
            float[] xd = x.data;
            int ow = 2 * w;
            Parallel.forRange(batch * c, Math.max(1, Pointwise.CHUNK / (4 * h * w)), (p0, p1) -> {
                for (int p = p0; p < p1; p++) {
                    for (int y = 0; y < h; y++) {
                        // each source row widened once, then copied to the second output row
                        int src = (p * h + y) * w, dst = (p * 2 * h + 2 * y) * ow;
                        for (int xx = 0; xx < w; xx++) {
                            float v = xd[src + xx];
                            o[dst + 2 * xx] = v;
                            o[dst + 2 * xx + 1] = v;
                        }
                        System.arraycopy(o, dst, o, dst + ow, ow);
                    }
                }
            });
            return new Tensor(o, batch, c, 2 * h, 2 * w);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "upsampleNearest2x");
        }
    }

    /** Concatenates NCHW tensors along channels. */
    public static Tensor concatChannels(Tensor a, Tensor b) {
        long t0 = OpProfile.start();
        try {
            int batch = a.dim(0), ca = a.dim(1), cb = b.dim(1);
            int spatial = a.numel() / (batch * ca);
            float[] o = Workspace.floats(batch * (ca + cb) * spatial);
            for (int n = 0; n < batch; n++) {
                System.arraycopy(a.data, n * ca * spatial, o, n * (ca + cb) * spatial, ca * spatial);
                System.arraycopy(b.data, n * cb * spatial, o, (n * (ca + cb) + ca) * spatial, cb * spatial);
            }
            int[] s = a.shape.clone();
            s[1] = ca + cb;
            return new Tensor(o, s);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "concatChannels");
        }
    }

    /** [B, C, H, W] → [B, H·W, C]. */
    public static Tensor toTokens(Tensor x) {
        long t0 = OpProfile.start();
        try {
            int batch = x.dim(0), c = x.dim(1), hw = x.dim(2) * x.dim(3);
            float[] o = Workspace.floats(x.numel());
            transposeEach(batch, c, hw, x.data, o);
            return new Tensor(o, batch, hw, c);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "toTokens");
        }
    }

    /** [B, H·W, C] → [B, C, H, W]. */
    public static Tensor fromTokens(Tensor x, int h, int w) {
        long t0 = OpProfile.start();
        try {
            int batch = x.dim(0), hw = x.dim(1), c = x.dim(2);
            if (hw != h * w) throw new IllegalArgumentException(x + " is not " + h + "x" + w + " tokens");
            float[] o = Workspace.floats(x.numel());
            transposeEach(batch, hw, c, x.data, o);
            return new Tensor(o, batch, c, h, w);
        } finally {
            if (OpProfile.ON) OpProfile.stop(t0, "fromTokens");
        }
    }

    /**
     * Nearest-neighbour resize of an NCHW tensor to height × width, choosing source pixels as torch's
     * interpolate(mode="nearest", size=...) does: floor(dst · in/out) with the ratio in float32.
     */
    public static Tensor upsampleNearest(Tensor x, int height, int width) {
        int batch = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int[] srcY = nearestSourceIndex(h, height), srcX = nearestSourceIndex(w, width);
        float[] o = Workspace.floats(batch * c * height * width);
        for (int p = 0; p < batch * c; p++) {
            for (int y = 0; y < height; y++) {
                int src = (p * h + srcY[y]) * w, dst = (p * height + y) * width;
                for (int xx = 0; xx < width; xx++) o[dst + xx] = x.data[src + srcX[xx]];
            }
        }
        return new Tensor(o, batch, c, height, width);
    }

    private static int[] nearestSourceIndex(int in, int out) {
        float scale = (float) in / out;
        int[] idx = new int[out];
        for (int i = 0; i < out; i++) idx[i] = Math.min((int) Math.floor(i * scale), in - 1);
        return idx;
    }

    /** Tile edge of the blocked transpose: a tile's source rows and destination rows stay in L1. */
    private static final int TRANSPOSE_TILE = 32;

    /** For each of batch matrices [rows, cols] in src: its transpose [cols, rows] into dst, in tiles. */
    private static void transposeEach(int batch, int rows, int cols, float[] src, float[] dst) {
        int rowTiles = (rows + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
        Parallel.forRange(batch * rowTiles, Math.max(1, Pointwise.CHUNK / (TRANSPOSE_TILE * Math.max(1, cols))), (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int base = t / rowTiles * rows * cols;
                int r0 = t % rowTiles * TRANSPOSE_TILE, r1 = Math.min(rows, r0 + TRANSPOSE_TILE);
                for (int c0 = 0; c0 < cols; c0 += TRANSPOSE_TILE) {
                    int c1 = Math.min(cols, c0 + TRANSPOSE_TILE);
                    // the strided side steps by the smaller dimension: a power-of-two stride of 4 KiB or
                    // more would put all of a tile's lines into one L1 set
                    if (rows <= cols) {
                        for (int r = r0; r < r1; r++) {
                            for (int cc = c0; cc < c1; cc++) dst[base + cc * rows + r] = src[base + r * cols + cc];
                        }
                    } else {
                        for (int cc = c0; cc < c1; cc++) {
                            for (int r = r0; r < r1; r++) dst[base + cc * rows + r] = src[base + r * cols + cc];
                        }
                    }
                }
            }
        });
    }
}
