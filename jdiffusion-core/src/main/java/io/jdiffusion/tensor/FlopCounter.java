package io.jdiffusion.tensor;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counts the floating-point operations of the matrix products that {@link Ops} runs, the way torch's
 * FLOP counter does (a multiply-add is 2 FLOPs; norms, activations and additions are not counted):
 * <ul>
 * <li>linear: 2·M·N·K (bias not counted);</li>
 * <li>conv2d: 2·B·Cout·Cin·kh·kw·Hout·Wout;</li>
 * <li>attention: 4·B·heads·Tq·Tk·headDim (the two products q·kᵀ and p·v; causal masking not subtracted).</li>
 * </ul>
 * Off by default, so that the ops pay one volatile read; the benchmark turns it on around the steps it
 * times. One global counter: counting while two jobs run counts both.
 */
public final class FlopCounter {
    private static volatile boolean enabled;
    private static final LongAdder CONV = new LongAdder();
    private static final LongAdder LINEAR = new LongAdder();
    private static final LongAdder ATTENTION = new LongAdder();

    /** FLOPs by kind since the last {@link #reset()}. */
    public record Counts(long conv, long linear, long attention) {
        public long total() {
            return conv + linear + attention;
        }
    }

    private FlopCounter() {
    }

    public static void enable() {
        enabled = true;
    }

    public static void disable() {
        enabled = false;
    }

    public static boolean isEnabled() {
        return enabled;
    }

    public static void reset() {
        CONV.reset();
        LINEAR.reset();
        ATTENTION.reset();
    }

    public static Counts counts() {
        return new Counts(CONV.sum(), LINEAR.sum(), ATTENTION.sum());
    }

    /** x [..., K] times w [N, K]ᵀ. */
    static void linear(Tensor x, Weight w) {
        if (!enabled) return;
        long k = x.dim(-1), m = x.numel() / Math.max(1, k);
        LINEAR.add(2 * m * w.dim(0) * k);
    }

    /** x [B, Cin, H, W] convolved with w [Cout, Cin, kh, kw] at this stride and symmetric zero padding. */
    static void conv2d(Tensor x, Weight w, int stride, int padding) {
        if (!enabled) return;
        long kh = w.dim(2), kw = w.dim(3);
        long oh = (x.dim(2) + 2L * padding - kh) / stride + 1, ow = (x.dim(3) + 2L * padding - kw) / stride + 1;
        CONV.add(2L * x.dim(0) * w.dim(0) * w.dim(1) * kh * kw * oh * ow);
    }

    /** q [B, Tq, C] attending to k [B, Tk, C] in {@code heads} heads of C/heads. */
    static void attention(Tensor q, Tensor k, int heads) {
        if (!enabled) return;
        long batch = q.dim(0), tq = q.dim(1), c = q.dim(2), tk = k.dim(1);
        // 4·B·heads·Tq·Tk·(C/heads) = 4·B·Tq·Tk·C
        ATTENTION.add(4 * batch * tq * tk * (c / heads) * heads);
    }
}
