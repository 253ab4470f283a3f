package io.jdiffusion.tensor;

import java.util.Arrays;

/**
 * Makes the JIT compile the kernels before real work needs them. Vector API code runs some 50× slower
 * until C2 has compiled it, and a kernel first met inside a large call (the first 64² convolution) runs
 * there for seconds. Here every kernel and every op's code path runs on tiny inputs, often enough for C2.
 */
final class WarmUp {
    private WarmUp() {
    }

    /** Calls per kernel: past C2's thresholds for short loops (some thousand invocations plus back edges). */
    private static final int KERNEL_CALLS = 10000;
    /** Calls per op on small tensors. */
    private static final int OP_CALLS = 200;

    static void run() {
        MicroKernels mk = MicroKernels.PREFERRED;
        int kc = 16, nr = mk.nr, mr = mk.maxMr;
        float[] a = filled(mr * mk.rowStride + kc * mr), b = filled(kc * nr), c = new float[mr * nr];
        // every kernel: the full-height ones do most of the work, and the narrower ones serve matrices of fewer
        // rows (a convolution to 3 or 4 channels: the networks' outputs; a linear layer on the batch's 2
        // timestep embeddings), which a step calls too rarely to get them compiled soon: left to C1, the VAE's
        // output convolution at 512² alone takes seconds. Even and odd depths: a depth loop written out twice
        // has an odd last step, which C2 leaves out after seeing only even depths, then throws the compiled
        // kernel away at the first odd one (cross-attention's 77 keys) and compiles it again, once with a bounds
        // check per load and an accumulator spilled to the stack (docs/PERFORMANCE.md).
        for (int i = 0; i < KERNEL_CALLS; i++) {
            int depth = (i & 2) == 0 ? kc : kc - 1;
            for (int rows = 1; rows <= mr; rows++) mk.rowPanel(rows, a, 0, b, 0, depth, c, 0, nr, (i & 1) == 0);
            mk.packed(a, 0, b, 0, depth, c, 0, nr, (i & 1) == 0);
        }
        // every op, at sizes that take every branch (several key and query tiles, ragged edges, padding)
        Tensor x = new Tensor(filled(2 * 8 * 10 * 10), 2, 8, 10, 10);
        Tensor tokens = new Tensor(filled(300 * 80), 1, 300, 80);
        Tensor context = new Tensor(filled(2 * 77 * 80), 2, 77, 80);
        Tensor queries = new Tensor(filled(2 * 40 * 80), 2, 40, 80);
        Tensor fewTokens = new Tensor(filled(20 * 80), 1, 20, 80); // a linear layer computed transposed
        Weight conv = weight(DType.F16, 16, 8, 3, 3), conv1 = weight(DType.F16, 16, 8, 1, 1), bias = weight(DType.F16, 16);
        Weight norm = weight(DType.F32, 8), lin = weight(DType.F16, 80, 80), linB = weight(DType.BF16, 80, 80), ln = weight(DType.F32, 80);
        // the Winograd convolution's transforms, called a few times per convolution: a UNet step alone would
        // leave them in C1 (whose Vector API code boxes every vector) for several steps; rows of 70 pixels, so
        // that the column splits and interleaves of both tile sizes run their whole-vector loops too
        Tensor wideRows6 = new Tensor(filled(8 * 6 * 70), 1, 8, 6, 70);
        for (int i = 0; i < 5 * OP_CALLS; i++) {
            Winograd.conv3x3(mk, Gemm.Blocking.DEFAULT, Winograd.F2, wideRows6, conv, bias);
            Winograd.conv3x3(mk, Gemm.Blocking.DEFAULT, Winograd.F4, wideRows6, conv, bias);
        }
        // convolutions to few channels (Convolution.fewOutputs, the networks' last layers: once per step or
        // decode), on rows wide enough for its vector strips, with every channel count it takes (C2 compiles
        // only the branches it saw: a count it had not seen sent it back to C1, whose strips box every vector:
        // a 32² UNet step allocated 30–70 MiB more until C2 had compiled them again)
        Tensor wideRows = new Tensor(filled(8 * 3 * 40), 1, 8, 3, 40);
        for (int i = 0; i < 5 * OP_CALLS; i++) {
            int channels = 1 + i % Convolution.FEW_OUTPUTS;
            Convolution.fewOutputs(wideRows, weight(DType.F16, channels, 8, 3, 3), i % 2 == 0 ? bias(channels) : null);
        }
        for (int i = 0; i < OP_CALLS; i++) {
            Ops.conv2d(x, conv, bias, 1, 1);
            Ops.conv2d(x, conv, bias, 2, 1);
            Ops.conv2d(x, conv1, bias, 1, 0);
            Ops.groupNorm(x, 4, norm, norm, 1e-5f, true);
            Ops.groupNorm(x, 4, norm, norm, 1e-5f, false);
            Ops.linear(queries, lin, bias(80));
            Ops.linear(queries, linB, null);
            Ops.linear(fewTokens, lin, bias(80));
            Ops.layerNorm(queries, ln, ln, 1e-5f);
            Ops.attention(queries, context, context, 2, false);
            Ops.geglu(queries);
            Ops.gelu(queries);
            Ops.silu(queries);
            Ops.quickGelu(queries);
            if (i % 10 == 0) {
                Ops.attention(tokens, tokens, tokens, 2, false);
                Ops.attention(tokens, tokens, tokens, 2, true);
            }
        }
    }

    private static Weight bias(int n) {
        return weight(DType.F16, n);
    }

    private static float[] filled(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 0.01f);
        for (int i = 0; i < n; i += 7) v[i] = -0.02f;
        return v;
    }

    private static Weight weight(DType dtype, long... shape) {
        float[] v = filled(Math.toIntExact(Weight.numel(shape)));
        if (dtype == DType.F32) return Weight.ofFloats("warm-up", v, shape);
        java.lang.foreign.MemorySegment seg = java.lang.foreign.MemorySegment.ofArray(new short[v.length]);
        for (int i = 0; i < v.length; i++) {
            short bits = dtype == DType.F16 ? Float.floatToFloat16(v[i]) : (short) (Float.floatToRawIntBits(v[i]) >>> 16);
            seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i, bits);
        }
        return new Weight("warm-up", dtype, shape, seg);
    }
}
