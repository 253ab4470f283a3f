package io.jdiffusion.tensor;

/**
 * The simple, obviously correct implementations the fast {@link Ops} are tested against (they were the
 * project's first Ops). Slow: for tests only.
 */
final class NaiveOps {
    private NaiveOps() {
    }

    /** y = x·Wᵀ + b over the last dim: x [..., K], w [N, K], b [N] or null → [..., N]. */
    static Tensor linear(Tensor x, Weight w, Weight b) {
        int k = x.dim(-1);
        int n = w.dim(0);
        if (w.dim(1) != k) throw new IllegalArgumentException(w.name() + " " + w.shapeString() + " applied to " + x);
        int m = x.numel() / k;
        float[] wt = w.toFloats();
        float[] bias = b == null ? null : b.toFloats();
        float[] out = new float[m * n];
        float[] xd = x.data;
        Parallel.forRange(m, 1, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xo = r * k;
                for (int j = 0; j < n; j++) {
                    int wo = j * k;
                    float s = 0;
                    for (int i = 0; i < k; i++) s += xd[xo + i] * wt[wo + i];
                    out[r * n + j] = bias == null ? s : s + bias[j];
                }
            }
        });
        int[] shape = x.shape.clone();
        shape[shape.length - 1] = n;
        return new Tensor(out, shape);
    }

    /** 2-D convolution, NCHW, square stride and zero padding; w [Cout, Cin, kh, kw]. */
    static Tensor conv2d(Tensor x, Weight w, Weight b, int stride, int padding) {
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        if (w.dim(1) != cin) throw new IllegalArgumentException(w.name() + " " + w.shapeString() + " applied to " + x);
        int oh = (h + 2 * padding - kh) / stride + 1, ow = (wd + 2 * padding - kw) / stride + 1;
        float[] wt = w.toFloats();
        float[] bias = b == null ? null : b.toFloats();
        float[] out = new float[batch * cout * oh * ow];
        float[] xd = x.data;
        Parallel.forRange(batch * cout, 1, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int n = p / cout, co = p % cout;
                int ob = p * oh * ow;
                float bv = bias == null ? 0 : bias[co];
                for (int i = 0; i < oh * ow; i++) out[ob + i] = bv;
                for (int ci = 0; ci < cin; ci++) {
                    int xb = (n * cin + ci) * h * wd;
                    for (int ky = 0; ky < kh; ky++) {
                        for (int kx = 0; kx < kw; kx++) {
                            float wv = wt[((co * cin + ci) * kh + ky) * kw + kx];
                            for (int oy = 0; oy < oh; oy++) {
                                int iy = oy * stride - padding + ky;
                                if (iy < 0 || iy >= h) continue;
                                for (int ox = 0; ox < ow; ox++) {
                                    int ix = ox * stride - padding + kx;
                                    if (ix < 0 || ix >= wd) continue;
                                    out[ob + oy * ow + ox] += wv * xd[xb + iy * wd + ix];
                                }
                            }
                        }
                    }
                }
            }
        });
        return new Tensor(out, batch, cout, oh, ow);
    }

    /** GroupNorm over NCHW (or [B, C] / [B, C, L]), optionally followed by SiLU. */
    static Tensor groupNorm(Tensor x, int groups, Weight gamma, Weight beta, float eps, boolean silu) {
        int batch = x.dim(0), c = x.dim(1);
        int spatial = x.numel() / (batch * c);
        int cpg = c / groups;
        float[] g = gamma.toFloats(), bt = beta.toFloats();
        float[] out = new float[x.numel()];
        float[] xd = x.data;
        Parallel.forRange(batch * groups, 1, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int n = p / groups, gi = p % groups;
                int base = (n * c + gi * cpg) * spatial;
                int len = cpg * spatial;
                double sum = 0;
                for (int i = 0; i < len; i++) sum += xd[base + i];
                double mean = sum / len;
                double var = 0;
                for (int i = 0; i < len; i++) {
                    double d = xd[base + i] - mean;
                    var += d * d;
                }
                var /= len;
                float inv = (float) (1.0 / Math.sqrt(var + eps));
                float mf = (float) mean;
                for (int ch = 0; ch < cpg; ch++) {
                    int cc = gi * cpg + ch;
                    float scale = g[cc] * inv, shift = bt[cc];
                    int o = base + ch * spatial;
                    for (int i = 0; i < spatial; i++) {
                        float v = (xd[o + i] - mf) * scale + shift;
                        out[o + i] = silu ? v / (1f + (float) Math.exp(-v)) : v;
                    }
                }
            }
        });
        return new Tensor(out, x.shape);
    }

    /** LayerNorm over the last dim. */
    static Tensor layerNorm(Tensor x, Weight gamma, Weight beta, float eps) {
        int c = x.dim(-1);
        int rows = x.numel() / c;
        float[] g = gamma.toFloats(), bt = beta.toFloats();
        float[] out = new float[x.numel()];
        float[] xd = x.data;
        Parallel.forRange(rows, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * c;
                double sum = 0;
                for (int i = 0; i < c; i++) sum += xd[o + i];
                double mean = sum / c;
                double var = 0;
                for (int i = 0; i < c; i++) {
                    double d = xd[o + i] - mean;
                    var += d * d;
                }
                var /= c;
                float inv = (float) (1.0 / Math.sqrt(var + eps));
                float mf = (float) mean;
                for (int i = 0; i < c; i++) out[o + i] = (xd[o + i] - mf) * inv * g[i] + bt[i];
            }
        });
        return new Tensor(out, x.shape);
    }

    /**
     * Multi-head scaled dot-product attention: q [B, Tq, C], k and v [B, Tk, C], C split into
     * {@code heads} heads; scale 1/sqrt(C/heads); causal masks key j > query i. Returns [B, Tq, C].
     */
    static Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        int batch = q.dim(0), tq = q.dim(1), c = q.dim(2), tk = k.dim(1);
        int hd = c / heads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] out = new float[batch * tq * c];
        Parallel.forRange(batch * heads * tq, 8, (p0, p1) -> {
            float[] scores = new float[tk];
            for (int p = p0; p < p1; p++) {
                int n = p / (heads * tq), h = (p / tq) % heads, i = p % tq;
                int qo = (n * tq + i) * c + h * hd;
                float max = Float.NEGATIVE_INFINITY;
                int limit = causal ? Math.min(tk, i + 1) : tk;
                for (int j = 0; j < limit; j++) {
                    int ko = (n * tk + j) * c + h * hd;
                    float s = 0;
                    for (int d = 0; d < hd; d++) s += q.data[qo + d] * k.data[ko + d];
                    s *= scale;
                    scores[j] = s;
                    if (s > max) max = s;
                }
                float sum = 0;
                for (int j = 0; j < limit; j++) {
                    scores[j] = (float) Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                int oo = (n * tq + i) * c + h * hd;
                for (int j = 0; j < limit; j++) {
                    float pj = scores[j] / sum;
                    int vo = (n * tk + j) * c + h * hd;
                    for (int d = 0; d < hd; d++) out[oo + d] += pj * v.data[vo + d];
                }
            }
        });
        return new Tensor(out, batch, tq, c);
    }

    static Tensor silu(Tensor x) {
        float[] o = new float[x.numel()];
        for (int i = 0; i < o.length; i++) {
            float v = x.data[i];
            o[i] = v / (1f + (float) Math.exp(-v));
        }
        return new Tensor(o, x.shape);
    }

    /** GELU with the exact erf, as torch's default. */
    static Tensor gelu(Tensor x) {
        float[] o = new float[x.numel()];
        for (int i = 0; i < o.length; i++) o[i] = geluScalar(x.data[i]);
        return new Tensor(o, x.shape);
    }

    /** CLIP's quick GELU: x·sigmoid(1.702x). */
    static Tensor quickGelu(Tensor x) {
        float[] o = new float[x.numel()];
        for (int i = 0; i < o.length; i++) {
            float v = x.data[i];
            o[i] = v / (1f + (float) Math.exp(-1.702f * v));
        }
        return new Tensor(o, x.shape);
    }

    /** GEGLU: the last dim holds [hidden | gate]; returns hidden·gelu(gate), half as wide. */
    static Tensor geglu(Tensor x) {
        int c2 = x.dim(-1), c = c2 / 2;
        int rows = x.numel() / c2;
        float[] o = new float[rows * c];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < c; i++) o[r * c + i] = x.data[r * c2 + i] * geluScalar(x.data[r * c2 + c + i]);
        }
        int[] s = x.shape.clone();
        s[s.length - 1] = c;
        return new Tensor(o, s);
    }

    static float geluScalar(float v) {
        return (float) (0.5 * v * (1.0 + erf(v / Math.sqrt(2.0))));
    }

    /** erf in double precision (W. J. Cody's rational approximations are overkill here; this series/continued
     * fraction pair is accurate to ~1e-15 over the whole line). */
    static double erf(double x) {
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

    static Tensor add(Tensor a, Tensor b) {
        Tensor o = a.copy();
        addInPlace(o, b);
        return o;
    }

    static void addInPlace(Tensor a, Tensor b) {
        if (a.numel() != b.numel()) throw new IllegalArgumentException("add " + a + " + " + b);
        for (int i = 0; i < a.data.length; i++) a.data[i] += b.data[i];
    }

    /** Nearest-neighbour upsampling by 2 of an NCHW tensor. */
    static Tensor upsampleNearest2x(Tensor x) {
        int batch = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        float[] o = new float[batch * c * h * w * 4];
        for (int p = 0; p < batch * c; p++) {
            for (int y = 0; y < 2 * h; y++) {
                for (int xx = 0; xx < 2 * w; xx++) {
                    o[(p * 2 * h + y) * 2 * w + xx] = x.data[(p * h + y / 2) * w + xx / 2];
                }
            }
        }
        return new Tensor(o, batch, c, 2 * h, 2 * w);
    }

    /** [B, C, H, W] → [B, H·W, C]. */
    static Tensor toTokens(Tensor x) {
        int batch = x.dim(0), c = x.dim(1), hw = x.dim(2) * x.dim(3);
        float[] o = new float[x.numel()];
        for (int n = 0; n < batch; n++) {
            for (int ch = 0; ch < c; ch++) {
                int src = (n * c + ch) * hw;
                for (int i = 0; i < hw; i++) o[(n * hw + i) * c + ch] = x.data[src + i];
            }
        }
        return new Tensor(o, batch, hw, c);
    }

    /** [B, H·W, C] → [B, C, H, W]. */
    static Tensor fromTokens(Tensor x, int h, int w) {
        int batch = x.dim(0), hw = x.dim(1), c = x.dim(2);
        float[] o = new float[x.numel()];
        for (int n = 0; n < batch; n++) {
            for (int i = 0; i < hw; i++) {
                for (int ch = 0; ch < c; ch++) o[(n * c + ch) * hw + i] = x.data[(n * hw + i) * c + ch];
            }
        }
        return new Tensor(o, batch, c, h, w);
    }
}
