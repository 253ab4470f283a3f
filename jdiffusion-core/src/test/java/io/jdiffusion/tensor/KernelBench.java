package io.jdiffusion.tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Throughput of the kernels on Stable Diffusion 1.5's shapes, new against naive. Not a test: run it by hand,
 * on an otherwise idle machine, e.g. from the repository root after {@code ./mvnw -pl jdiffusion-core test-compile}:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp jdiffusion-core/target/classes:jdiffusion-core/target/test-classes \
 *      io.jdiffusion.tensor.KernelBench [--naive] [--threads N] [--reps N] [--cpu] [name ...]
 * </pre>
 * Names: conv320, conv640, conv1280, conv1280x8, conv1280b2, conv1280x8b2 (b2: batch 2), conv320x16, conv1280x4b2, conv64, conv32, vae128,
 * vae256, vae512 (a same-size 3×3 convolution also timed each way: Winograd F(2×2) and F(4×4), direct), conv1x1, convDown, linear, linearK1280, ffOut, qkv77,
 * linearM32/M128/M512/M2048, ffM128, ffM512, ffOutM128, ffOutM512, ffOutM2048 (the UNet's linear layers at a 256² image), fc2Text154,
 * attnSelf, attnCross, groupNorm, layerNorm, geglu, gelu, tokens, tune-gemm, tune-conv, tune-attn (the tune-* runs
 * compare cache blockings; -Dtune.blockings=kc:mc:nc:ncSmall:jrOuter;... names the ones to compare with the
 * default). GFLOP/s counts 2 flops per multiply-add; element-wise ops report Melem/s;
 * times are the best of the repetitions (--cpu: of the main thread's CPU time, for single-thread tuning on a
 * busy machine).
 */
public final class KernelBench {
    private static int reps = 5;
    private static boolean naive = false;
    /** Time by the calling thread's CPU time (meaningful with --threads 1 only: then all work runs on it). */
    private static boolean cpuTime = false;

    public static void main(String[] args) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--naive" -> naive = true;
                case "--threads" -> Parallel.setThreads(Integer.parseInt(args[++i]));
                case "--cpu" -> cpuTime = true;
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                default -> names.add(args[i]);
            }
        }
        if (names.isEmpty()) {
            names = List.of("conv320", "conv640", "conv1280", "conv1280x8", "conv1280b2", "conv1280x8b2", "conv1x1", "convDown", "linear",
                    "linearK1280", "ffOut", "qkv77", "attnSelf", "attnCross", "groupNorm", "layerNorm", "geglu", "tokens");
        }
        System.out.printf(Locale.ROOT, "threads %d, kernels %d-bit (%s), reps %d%n", Parallel.threads(),
                MicroKernels.PREFERRED.species.vectorBitSize(), MicroKernels.PREFERRED.getClass().getSimpleName(), reps);
        long w0 = System.nanoTime();
        Ops.warmUp();
        System.out.printf(Locale.ROOT, "warm-up %.0f ms%n", (System.nanoTime() - w0) / 1e6);
        for (String name : names) run(name);
    }

    private static final Random32 R = new Random32(42);

    private static void run(String name) {
        switch (name) {
            case "conv320" -> conv(name, 1, 320, 320, 64, 3, 1, 1);
            case "conv640" -> conv(name, 1, 640, 640, 32, 3, 1, 1);
            case "conv1280" -> conv(name, 1, 1280, 1280, 16, 3, 1, 1);
            case "conv1280x8" -> conv(name, 1, 1280, 1280, 8, 3, 1, 1);
            case "conv1280b2" -> conv(name, 2, 1280, 1280, 16, 3, 1, 1);
            case "conv1280x8b2" -> conv(name, 2, 1280, 1280, 8, 3, 1, 1);
            case "conv1x1" -> conv(name, 1, 640, 320, 64, 1, 1, 0);
            case "vae128" -> conv(name, 1, 128, 128, 512, 3, 1, 1);
            case "vae256" -> conv(name, 1, 256, 256, 256, 3, 1, 1);
            case "vae512" -> conv(name, 1, 512, 512, 128, 3, 1, 1);
            case "conv320x16" -> conv(name, 2, 320, 320, 16, 3, 1, 1);
            case "conv1280x4b2" -> conv(name, 2, 1280, 1280, 4, 3, 1, 1);
            case "conv64" -> conv(name, 2, 64, 64, 64, 3, 1, 1);
            case "conv32" -> conv(name, 2, 32, 32, 32, 3, 1, 1);
            case "convDown" -> conv(name, 1, 320, 320, 64, 3, 2, 1);
            case "linear" -> linear(name, 8192, 320, 960);
            case "linearK1280" -> linear(name, 512, 1280, 1280);
            case "linearM128" -> linear(name, 128, 1280, 1280);
            case "ffM128" -> linear(name, 128, 1280, 10240);
            case "ffOutM128" -> linear(name, 128, 5120, 1280);
            case "linearM512" -> linear(name, 512, 640, 640);
            case "ffM512" -> linear(name, 512, 640, 5120);
            case "linearM32" -> linear(name, 32, 1280, 1280);
            case "linearM2048" -> linear(name, 2048, 320, 320);
            case "ffOutM2048" -> linear(name, 2048, 1280, 320);
            case "ffOutM512" -> linear(name, 512, 2560, 640);
            case "text154" -> linear(name, 154, 768, 768);
            case "ffText154" -> linear(name, 154, 768, 3072);
            case "text77" -> linear(name, 77, 768, 3072);
            case "fc2Text154" -> linear(name, 154, 3072, 768);
            case "ffOut" -> linear(name, 8192, 1280, 320);
            case "qkv77" -> linear(name, 154, 768, 320);
            case "attnSelf" -> attention(name, 4096, 4096, 8, 40, Attention.Tiles.DEFAULT);
            case "attnCross" -> attention(name, 4096, 77, 8, 40, Attention.Tiles.DEFAULT);
            case "groupNorm" -> {
                Tensor x = R.tensor(2, 320, 64, 64);
                Weight g = R.weight(DType.F16, "g", 320), b = R.weight(DType.F16, "b", 320);
                elementwise(name, x.numel(), () -> Ops.groupNorm(x, 32, g, b, 1e-5f, true), () -> NaiveOps.groupNorm(x, 32, g, b, 1e-5f, true));
            }
            case "layerNorm" -> {
                Tensor x = R.tensor(2, 4096, 320);
                Weight g = R.weight(DType.F16, "g", 320), b = R.weight(DType.F16, "b", 320);
                elementwise(name, x.numel(), () -> Ops.layerNorm(x, g, b, 1e-5f), () -> NaiveOps.layerNorm(x, g, b, 1e-5f));
            }
            case "geglu" -> {
                Tensor x = R.tensor(8192, 2560);
                elementwise(name, x.numel() / 2, () -> Ops.geglu(x), () -> NaiveOps.geglu(x));
            }
            case "gelu" -> {
                Tensor x = R.tensor(8192, 1280);
                elementwise(name, x.numel(), () -> Ops.gelu(x), () -> NaiveOps.gelu(x));
            }
            case "tokens" -> {
                Tensor x = R.tensor(2, 320, 64, 64);
                elementwise("toTokens", x.numel(), () -> Ops.toTokens(x), () -> NaiveOps.toTokens(x));
                Tensor t = Ops.toTokens(x);
                elementwise("fromTokens", x.numel(), () -> Ops.fromTokens(t, 64, 64), () -> NaiveOps.fromTokens(t, 64, 64));
            }
            case "tune-gemm" -> tuneGemm();
            case "tune-conv" -> tuneConv();
            case "tune-attn" -> tuneAttention();
            default -> throw new IllegalArgumentException("unknown benchmark " + name);
        }
    }

    private static void conv(String name, int batch, int cin, int cout, int size, int k, int stride, int pad) {
        Tensor x = R.tensor(batch, cin, size, size);
        Weight w = R.weight(DType.F16, "w", cout, cin, k, k), b = R.weight(DType.F16, "b", cout);
        int out = (size + 2 * pad - k) / stride + 1;
        double flops = 2.0 * batch * cout * cin * k * k * out * out;
        report(name + String.format(Locale.ROOT, " b%d %dx%d %d²→%d² k%d s%d (M%d K%d N%d)", batch, cin, cout, size, out, k, stride, cout, cin * k * k, batch * out * out),
                flops, () -> Ops.conv2d(x, w, b, stride, pad), () -> NaiveOps.conv2d(x, w, b, stride, pad));
        if (k == 3 && stride == 1 && pad == 1) {
            // both ways of a same-size 3×3 convolution, for their ratio in one run (FLOP/s counted as direct)
            String taken = Winograd.applies(x, w, stride, pad, pad, out, out) ? "" : " (not taken)";
            for (Winograd.Tile tile : new Winograd.Tile[]{Winograd.F2, Winograd.F4}) {
                String chosen = taken.isEmpty() && Winograd.tileFor(size, size) == tile ? " (chosen)" : "";
                report("  Winograd F(" + tile.m() + "×" + tile.m() + ", 3×3)" + taken + chosen, flops,
                        () -> Winograd.conv3x3(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, tile, x, w, b), null);
            }
            report("  direct (implicit GEMM)", flops,
                    () -> Convolution.direct(MicroKernels.PREFERRED, Gemm.Blocking.DEFAULT, x, w, b, stride, pad, pad, out, out), null);
        }
    }

    private static void linear(String name, int m, int k, int n) {
        Tensor x = R.tensor(m, k);
        Weight w = R.weight(DType.F16, "w", n, k), b = R.weight(DType.F16, "b", n);
        report(name + String.format(Locale.ROOT, " M%d K%d N%d", m, k, n), 2.0 * m * n * k,
                () -> Ops.linear(x, w, b), () -> NaiveOps.linear(x, w, b));
    }

    private static void attention(String name, int tq, int tk, int heads, int hd, Attention.Tiles tiles) {
        int c = heads * hd;
        Tensor q = R.tensor(1, tq, c), k = R.tensor(1, tk, c), v = R.tensor(1, tk, c);
        report(name + String.format(Locale.ROOT, " Tq%d Tk%d heads %d × %d", tq, tk, heads, hd), 4.0 * tq * tk * c,
                () -> Attention.attention(MicroKernels.PREFERRED, tiles, q, k, v, heads, false),
                () -> NaiveOps.attention(q, k, v, heads, false));
    }

    private static void elementwise(String name, long elems, Supplier<?> fast, Supplier<?> slow) {
        double t = time(fast, reps);
        String line = String.format(Locale.ROOT, "%-58s %8.2f ms %9.0f Melem/s", name, t * 1e3, elems / t / 1e6);
        if (naive) {
            double tn = time(slow, 1);
            line += String.format(Locale.ROOT, "   naive %9.2f ms  ×%.1f", tn * 1e3, tn / t);
        }
        System.out.println(line);
    }

    private static void report(String name, double flops, Supplier<?> fast, Supplier<?> slow) {
        double t = time(fast, reps);
        String line = String.format(Locale.ROOT, "%-58s %8.2f ms %7.1f GFLOP/s", name, t * 1e3, flops / t / 1e9);
        if (naive) {
            double tn = time(slow, 1);
            line += String.format(Locale.ROOT, "   naive %9.1f ms %6.2f GFLOP/s  ×%.0f", tn * 1e3, flops / tn / 1e9, tn / t);
        }
        System.out.println(line);
    }

    /**
     * Best seconds of n runs after warm-up runs (a cold JIT needs a few large calls). The best rather than
     * the median: on a shared machine the other processes only ever add time.
     */
    private static double time(Supplier<?> f, int n) {
        for (int i = 0; i < (n == 1 ? 1 : 3); i++) f.get();
        double[] t = new double[n];
        for (int i = 0; i < n; i++) {
            long t0 = now();
            f.get();
            t[i] = (now() - t0) / 1e9;
        }
        Arrays.sort(t);
        return t[0];
    }

    private static long now() {
        return cpuTime ? java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() : System.nanoTime();
    }

    private static void tuneGemm() {
        int[][] shapes = {{8192, 320, 960}, {8192, 1280, 320}, {512, 1280, 5120}};
        for (int[] s : shapes) {
            int m = s[0], k = s[1], n = s[2];
            float[] a = R.floats(m * k);
            Weight w = R.weight(DType.F16, "w", n, k);
            float[] c = new float[m * n];
            for (Gemm.Blocking blk : blockings()) {
                report(String.format(Locale.ROOT, "gemm M%d K%d N%d %s", m, k, n, blk), 2.0 * m * n * k,
                        () -> {
                            Gemm.run(MicroKernels.PREFERRED, blk, m, n, k, new Gemm.RowMajorA(a, 0, k), new Gemm.WeightRowsB(w, k), null, null, Gemm.Out.rowMajor(c, 0, n), false);
                            return c;
                        }, null);
            }
        }
    }

    private static void tuneConv() {
        int[][] shapes = {{320, 64}, {128, 256}, {1280, 16}};
        for (int[] s : shapes) {
            int ch = s[0], size = s[1];
            Tensor x = R.tensor(1, ch, size, size);
            Weight w = R.weight(DType.F16, "w", ch, ch, 3, 3);
            for (Gemm.Blocking blk : blockings()) {
                report(String.format(Locale.ROOT, "conv %d at %d² %s", ch, size, blk), 2.0 * ch * ch * 9 * size * size,
                        () -> Convolution.conv2d(MicroKernels.PREFERRED, blk, x, w, null, 1, 1, 1, size, size), null);
            }
        }
    }

    private static List<Gemm.Blocking> blockings() {
        List<Gemm.Blocking> list = new ArrayList<>();
        list.add(Gemm.Blocking.DEFAULT);
        String spec = System.getProperty("tune.blockings");
        if (spec != null) {
            // -Dtune.blockings=kc:mc:nc:ncSmall:jrOuter;... (the other sizes as the default's)
            Gemm.Blocking d = Gemm.Blocking.DEFAULT;
            for (String b : spec.split(";")) {
                String[] f = b.split(":");
                list.add(new Gemm.Blocking(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]),
                        d.cBlock(), Boolean.parseBoolean(f[4]), d.sharedA()));
            }
            return list;
        }
        for (int mc : new int[]{224, 448, 672, 960}) {
            for (boolean jrOuter : new boolean[]{false, true}) {
                list.add(new Gemm.Blocking(384, mc, 2048, 256, Gemm.Blocking.DEFAULT.cBlock(), jrOuter, Gemm.Blocking.DEFAULT.sharedA()));
                list.add(new Gemm.Blocking(384, mc, 512, 256, Gemm.Blocking.DEFAULT.cBlock(), jrOuter, Gemm.Blocking.DEFAULT.sharedA()));
            }
        }
        return list;
    }

    private static void tuneAttention() {
        for (int[] t : new int[][]{{32, 128}, {64, 128}, {64, 256}, {128, 256}, {64, 512}, {128, 512}, {256, 256}}) {
            attention("attn tiles " + t[0] + "x" + t[1], 4096, 4096, 8, 40, new Attention.Tiles(t[0], t[1]));
        }
    }
}
