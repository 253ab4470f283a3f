package io.jdiffusion.tensor;

/**
 * Two short measurements of how fast this process's compiled code is (the bench reports them): the fp16 →
 * float32 conversion of a stored weight, and the 14-row FMA kernel on data in L1, one thread each. Some
 * processes run everything 1.5–2× slower for their whole life (docs/PERFORMANCE.md, "Run-to-run spread");
 * these tell which piece of code such a process got wrong, without a profiler.
 */
public final class KernelProbe {
    private KernelProbe() {
    }

    /** Nanoseconds per element to convert w (up to its first 4M elements) in rows of 64, as B panels are packed; best of 3. */
    public static double conversionNanos(Weight w) {
        int len = 64;
        long count = Math.min(w.numel(), 1L << 22) / len * len;
        if (count == 0) return Double.NaN;
        float[] dst = new float[len];
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            for (long i = 0; i < count; i += len) w.read(i, dst, 0, len);
            best = Math.min(best, (double) (System.nanoTime() - t0) / count);
        }
        return best;
    }

    /** GFLOP/s of the full-height kernel on one thread, its operands in L1 (depth 256); best of 3. */
    public static double kernelGflops() {
        MicroKernels mk = MicroKernels.PREFERRED;
        int kc = 256, mr = mk.maxMr, nr = mk.nr, calls = 4000;
        float[] a = new float[mr * mk.rowStride], b = new float[kc * nr], c = new float[mr * nr];
        for (int i = 0; i < a.length; i++) a[i] = (i % 7) * 1e-3f;
        for (int i = 0; i < b.length; i++) b[i] = (i % 5) * 1e-3f;
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) mk.rowPanel(mr, a, 0, b, 0, kc, c, 0, nr, i > 0);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return 2.0 * mr * nr * kc * calls / best / 1e9;
    }
}
