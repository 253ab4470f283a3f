package io.jdiffusion.sampling;

import io.jdiffusion.tensor.Tensor;

import java.security.SecureRandom;

/**
 * The noise of {@code torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))}, bit for
 * bit, so that a seed gives the same image here as in diffusers and ComfyUI. The recipe (engine,
 * uniforms, the two normal paths, and where the vectorised path's fused multiply-adds sit) is written
 * down in shared/docs/NOISE.md; this class follows it step by step.
 *
 * <p>Not thread-safe: one generator belongs to one generation.
 */
public final class TorchCpuRandom implements NoiseSource {

    // ---- MT19937 (aten/src/ATen/core/MT19937RNGEngine.h) ----
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;

    private final int[] state = new int[N];
    private int next = N;

    /** torch's normal_distribution&lt;double&gt; keeps the second Box-Muller value for the next call. */
    private boolean hasCachedNormal;
    private double cachedNormal;

    /**
     * A generator seeded like {@code manual_seed(seed)}. Seeds above 2^63 − 1 arrive as negative longs
     * (the same 64 bits); torch's engine keeps only the low 32 bits, so seed and seed + 2^32 agree.
     */
    public TorchCpuRandom(long seed) {
        state[0] = (int) seed;
        for (int j = 1; j < N; j++) {
            int prev = state[j - 1];
            state[j] = 1812433253 * (prev ^ (prev >>> 30)) + j;
        }
        next = N;
        hasCachedNormal = false;
    }

    /** A seed for "--seed -1": uniformly chosen in [0, 2^32 − 1), the range every front end accepts. */
    public static long randomSeed() {
        return new SecureRandom().nextLong(0xFFFF_FFFFL);
    }

    private void twist() {
        for (int k = 0; k < N; k++) {
            int y = (state[k] & UPPER_MASK) | (state[(k + 1) % N] & LOWER_MASK);
            int mag = (y & 1) != 0 ? MATRIX_A : 0;
            state[k] = state[(k + M) % N] ^ (y >>> 1) ^ mag;
        }
        next = 0;
    }

    /** The next tempered 32-bit output, as an unsigned value in an int. */
    int nextU32() {
        if (next >= N) twist();
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    /** torch's float uniform: the low 24 bits of one draw, times 2^-24. */
    private float uniformFloat() {
        return (nextU32() & 0xFFFFFF) * 0x1p-24f;
    }

    /** torch's double uniform: a 64-bit draw (first output high), its low 53 bits times 2^-53. */
    private double uniformDouble() {
        long hi = nextU32() & 0xFFFF_FFFFL;
        long lo = nextU32() & 0xFFFF_FFFFL;
        return (((hi << 32) | lo) & ((1L << 53) - 1)) * 0x1p-53;
    }

    @Override
    public Tensor randn(int... shape) {
        return new Tensor(randn(Tensor.numel(shape)), shape);
    }

    /** n standard normal values; the values depend on n only, not on the shape they fill. */
    public float[] randn(int n) {
        float[] out = new float[n];
        if (n >= 16) {
            fillVectorised(out);
        } else {
            for (int i = 0; i < n; i++) out[i] = (float) nextDoubleNormal();
        }
        return out;
    }

    /** {@code torch.rand(n)}: uniform in [0, 1) from the same stream. */
    public float[] rand(int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = uniformFloat();
        return out;
    }

    public Tensor rand(int... shape) {
        return new Tensor(rand(Tensor.numel(shape)), shape);
    }

    // ---- numel < 16: normal_distribution<double>, Box-Muller with a cached second value ----

    private double nextDoubleNormal() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u1 = uniformDouble();
        double u2 = uniformDouble();
        double r = StrictMath.sqrt(-2.0 * StrictMath.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * StrictMath.sin(theta);
        hasCachedNormal = true;
        return r * StrictMath.cos(theta);
    }

    // ---- numel >= 16: the AVX2/AVX-512 path (normal_fill_16 with avx_mathfun's log and sincos) ----

    private void fillVectorised(float[] d) {
        int n = d.length;
        for (int i = 0; i < n; i++) d[i] = uniformFloat();
        for (int i = 0; i + 16 <= n; i += 16) normalFill16(d, i, d, i);
        if (n % 16 != 0) {
            // torch draws 16 fresh uniforms and recomputes the last 16 outputs from them
            float[] tail = new float[16];
            for (int i = 0; i < 16; i++) tail[i] = uniformFloat();
            normalFill16(tail, 0, d, n - 16);
        }
    }

    private static final float TWO_PI_F = (float) (2.0 * Math.PI);

    /** Box-Muller on 16 uniforms: the first 8 give radii, the last 8 angles. */
    private static void normalFill16(float[] u, int uOff, float[] out, int outOff) {
        float[] cosSin = new float[2];
        float[] radius = new float[8];
        float[] angle = new float[8];
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - u[uOff + j];
            radius[j] = (float) Math.sqrt(-2f * log256(u1));
            angle[j] = TWO_PI_F * u[uOff + j + 8];
        }
        for (int j = 0; j < 8; j++) {
            sincos256(angle[j], cosSin);
            out[outOff + j] = radius[j] * cosSin[0];
            out[outOff + j + 8] = radius[j] * cosSin[1];
        }
    }

    // Cephes constants as in avx_mathfun.h
    private static final float SQRTHF = 0.707106781186547524f;
    private static final float[] LOG_P = {
            7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f, -1.2420140846E-1f, 1.4249322787E-1f,
            -1.6668057665E-1f, 2.0000714765E-1f, -2.4999993993E-1f, 3.3333331174E-1f};
    private static final float LOG_Q1 = -2.12194440e-4f;
    private static final float LOG_Q2 = 0.693359375f;

    /** log256_ps for one lane (x &gt; 0), with the FMAs where GCC put them. */
    static float log256(float x) {
        x = Math.max(x, Float.MIN_NORMAL);
        int bits = Float.floatToRawIntBits(x);
        float e = (float) ((bits >>> 23) - 127) + 1f;
        x = Float.intBitsToFloat((bits & ~0x7f800000) | Float.floatToRawIntBits(0.5f));
        boolean small = x < SQRTHF;
        float tmp = small ? x : 0f;
        x = x - 1f;
        e = e - (small ? 1f : 0f);
        x = x + tmp;
        float z = x * x;
        float y = LOG_P[0];
        for (int k = 1; k < LOG_P.length; k++) y = Math.fma(y, x, LOG_P[k]);
        y = y * x;
        y = Math.fma(y, z, e * LOG_Q1);
        y = Math.fma(z, -0.5f, y);
        x = x + y;
        return Math.fma(e, LOG_Q2, x);
    }

    private static final float FOPI = 1.27323954473516f;
    private static final float DP1 = -0.78515625f;
    private static final float DP2 = -2.4187564849853515625e-4f;
    private static final float DP3 = -3.77489497744594108e-8f;
    private static final float COS_P0 = 2.443315711809948E-005f;
    private static final float COS_P1 = -1.388731625493765E-003f;
    private static final float COS_P2 = 4.166664568298827E-002f;
    private static final float SIN_P0 = -1.9515295891E-4f;
    private static final float SIN_P1 = 8.3321608736E-3f;
    private static final float SIN_P2 = -1.6666654611E-1f;

    /** sincos256_ps for one lane: out[0] = cos, out[1] = sin. */
    static void sincos256(float x, float[] out) {
        boolean negative = (Float.floatToRawIntBits(x) & 0x80000000) != 0;
        x = Math.abs(x);
        int j = (int) (x * FOPI);
        j = (j + 1) & ~1;
        float y = j;
        boolean swapSign = (j & 4) != 0;
        boolean sinFromSinPoly = (j & 2) == 0;
        boolean negateCos = (~(j - 2) & 4) != 0;
        x = Math.fma(y, DP1, x);
        x = Math.fma(y, DP2, x);
        x = Math.fma(y, DP3, x);
        float z = x * x;
        float c = Math.fma(Math.fma(COS_P0, z, COS_P1), z, COS_P2);
        c = c * z;
        c = Math.fma(c, z, -(z * 0.5f));
        c = c + 1f;
        float s = Math.fma(Math.fma(SIN_P0, z, SIN_P1), z, SIN_P2);
        s = s * z;
        s = Math.fma(s, x, x);
        float sin = sinFromSinPoly ? s : c;
        float cos = sinFromSinPoly ? c : s;
        if (negative ^ swapSign) sin = -sin;
        if (negateCos) cos = -cos;
        out[0] = cos;
        out[1] = sin;
    }
}
