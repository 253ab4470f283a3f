#!/usr/bin/env python3
"""Generates the register-blocked FMA micro-kernels of io.jdiffusion.tensor (MicroKernels512/256/128.java).

Run from the repository root:  python3 tools/gen_kernels.py
The generated Java is committed; edit this script, never the generated files.

Each kernel computes one C tile of MR rows x NR columns (NR = two vectors), keeping all MR*2 accumulators
in registers:  C[i][j] (+)= sum over p < kc of A(i, p) * b[bo + p*NR + j].
B is always a packed micro-panel [kc][NR]. A comes in one of two layouts:
  qMR: "row panel" A(i, p) = a[ao + i*ROW_STRIDE + p]  (the GEMM's packed A blocks), MR = 1 .. max
  pMAX: "k-major"  A(i, p) = a[ao + p*MAX + i]         (attention's keys and values, gathered so), max rows only
With a fixed row stride every row address is one pointer plus a constant: a variable stride needs a
register per row, more than x86 has for 14 rows, and the spills cost ~17%. The k-major stride is a constant
too (with a variable one C2 keeps one bounds check per broadcast in the loop).

Bounds checks: with running pointers (ai += ..) C2 keeps a check per load in the loop unless it merges a
step's checks into one per base, which some compilations do and others not (no cost measurable here).
Addresses computed from the loop counter (a[ao + p*MR + i]) have them all hoisted, but C2 then loads a whole
step ahead of its FMAs, which fits 16 AVX2 registers only with 4-row tiles, and those made the UNet's
products 12-20 % slower at 256x256 (docs/PERFORMANCE.md, 2026-12-07 fourth session).

The code paths use only the widest kernels (others are rarely called, and a rarely called Vector API method
runs interpreted or in C1 for a long time before C2 compiles it); the narrower row-panel kernels serve
matrices with fewer rows.
"""
import os

FAMILIES = [
    # (class suffix, species, floats per vector, max rows, depth unroll): rows are bounded by the register
    # file, 2*MR accumulators + 2 B vectors + 1 broadcast: 32 registers for AVX-512, 16 for AVX2 / SSE.
    # Unroll: with 16 registers the depth loop is written out twice. Left alone, C2 unrolls a short loop
    # body 4x itself and schedules all its broadcasts first, which spills accumulators to the stack in
    # every step: a 6x16 AVX2 kernel then runs at 35-41 GFLOP/s on a Zen 3 core where it reaches 90
    # written out twice (a body that large C2 leaves alone).
    ("512", "FloatVector.SPECIES_512", 16, 14, 1),
    ("256", "FloatVector.SPECIES_256", 8, 6, 2),
    ("128", "FloatVector.SPECIES_128", 4, 6, 2),
]
NV = 2  # vectors per row of the tile
KC_MAX = 384  # the deepest depth block of the GEMM
ROW_STRIDE = KC_MAX + 16  # floats between the rows of a packed A block (the pad keeps rows off one L1 set)


def step(mr, lanes, kind, u, indent, unrolled):
    """One depth step p + u: the B row's vectors, then per row of A a broadcast and its FMAs."""
    L = []
    n = f"{u}" if unrolled else ""  # the step's own names in an unrolled body
    for v in range(NV):
        off = v * lanes
        boff = (f" + {off}" if off else "") + (f" + {u} * NR" if u else "")
        L.append(f"{indent}FloatVector b{n}{v} = FloatVector.fromArray(S, b, bi{boff});")
    for i in range(mr):
        if kind == "q":
            off = i * ROW_STRIDE + u
            src = "a[ai]" if off == 0 else f"a[ai + {off}]"
        else:
            off = u * mr + i
            src = "a[ai]" if off == 0 else f"a[ai + {off}]"
        L.append(f"{indent}FloatVector a{n}{i} = FloatVector.broadcast(S, {src});")
        for v in range(NV):
            L.append(f"{indent}c{i}_{v} = a{n}{i}.fma(b{n}{v}, c{i}_{v});")
    return L


def kernel(mr, lanes, kind, unroll):
    nr = NV * lanes
    L = []
    if kind == "q":
        L.append(f"    /** C[{mr}x{nr}] (+)= A(i, p) = a[ao + i*ROW_STRIDE + p] times the packed B panel. */")
        L.append(f"    static void q{mr}(float[] a, int ao, float[] b, int bo, int kc, float[] c, int co, int ldc, boolean acc) {{")
    else:
        L.append(f"    /** C[{mr}x{nr}] (+)= A(i, p) = a[ao + p*{mr} + i] times the packed B panel. */")
        L.append(f"    static void p{mr}(float[] a, int ao, float[] b, int bo, int kc, float[] c, int co, int ldc, boolean acc) {{")
    L.append("        final FloatVector zero = FloatVector.zero(S);")
    for i in range(mr):
        L.append("        FloatVector " + ", ".join(f"c{i}_{v} = zero" for v in range(NV)) + ";")
    # the depth loop; unrolled, its body written out twice and an odd last step after it
    if unroll == 1:
        a_next = "ai++" if kind == "q" else f"ai += {mr}"
        L.append(f"        for (int p = 0, ai = ao, bi = bo; p < kc; p++, {a_next}, bi += NR) {{")
        L.extend(step(mr, lanes, kind, 0, "            ", False))
        L.append("        }")
    elif unroll == 2:
        a_next = "ai += 2" if kind == "q" else f"ai += {2 * mr}"
        L.append("        int p = 0, ai = ao, bi = bo;")
        L.append(f"        for (; p + 1 < kc; p += 2, {a_next}, bi += 2 * NR) {{")
        for u in range(2):
            L.extend(step(mr, lanes, kind, u, "            ", True))
        L.append("        }")
        L.append("        if (p < kc) {")
        L.extend(step(mr, lanes, kind, 0, "            ", True))
        L.append("        }")
    else:
        raise ValueError("unroll 1 or 2")
    def c_off(i, v):
        row = "co" if i == 0 else ("co + ldc" if i == 1 else f"co + {i} * ldc")
        return row if v == 0 else f"{row} + {v * lanes}"
    # one store sequence after an optional load-and-add keeps the method small enough for C1, whose
    # linear-scan allocator gives up at 10000 virtual registers (a C1-compiled kernel that fails its
    # profiled recompilation can stay in slow C1 code for good)
    L.append("        if (acc) {")
    for i in range(mr):
        for v in range(NV):
            L.append(f"            c{i}_{v} = c{i}_{v}.add(FloatVector.fromArray(S, c, {c_off(i, v)}));")
    L.append("        }")
    for i in range(mr):
        for v in range(NV):
            L.append(f"        c{i}_{v}.intoArray(c, {c_off(i, v)});")
    L.append("    }")
    return "\n".join(L)


def family(suffix, species, lanes, max_mr, unroll):
    nr = NV * lanes
    out = []
    out.append("// GENERATED by tools/gen_kernels.py: do not edit by hand.")
    out.append("package io.jdiffusion.tensor;")
    out.append("")
    out.append("import jdk.incubator.vector.FloatVector;")
    out.append("import jdk.incubator.vector.VectorSpecies;")
    out.append("")
    out.append(f"/** Micro-kernels for {suffix}-bit vectors: tiles of 1..{max_mr} rows by {nr} columns. */")
    out.append(f"final class MicroKernels{suffix} extends MicroKernels {{")
    out.append(f"    private static final VectorSpecies<Float> S = {species};")
    out.append(f"    private static final int NR = {nr};")
    out.append("")
    out.append(f"    MicroKernels{suffix}() {{")
    out.append(f"        super(S, NR, {max_mr}, {ROW_STRIDE});")
    out.append("    }")
    out.append("")
    out.append("    @Override")
    out.append("    void rowPanel(int mr, float[] a, int ao, float[] b, int bo, int kc, float[] c, int co, int ldc, boolean acc) {")
    out.append("        switch (mr) {")
    for mr in range(1, max_mr + 1):
        out.append(f"            case {mr} -> q{mr}(a, ao, b, bo, kc, c, co, ldc, acc);")
    out.append("            default -> throw new IllegalArgumentException(\"no kernel with \" + mr + \" rows\");")
    out.append("        }")
    out.append("    }")
    out.append("")
    out.append("    @Override")
    out.append("    void packed(float[] a, int ao, float[] b, int bo, int kc, float[] c, int co, int ldc, boolean acc) {")
    out.append(f"        p{max_mr}(a, ao, b, bo, kc, c, co, ldc, acc);")
    out.append("    }")
    out.append("")
    for mr in range(1, max_mr + 1):
        out.append(kernel(mr, lanes, "q", unroll))
        out.append("")
    out.append(kernel(max_mr, lanes, "p", unroll))
    out.append("")
    out[-1] = "}"
    return "\n".join(out) + "\n"


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    pkg = os.path.join(root, "jdiffusion-core", "src", "main", "java", "io", "jdiffusion", "tensor")
    for suffix, species, lanes, max_mr, unroll in FAMILIES:
        path = os.path.join(pkg, f"MicroKernels{suffix}.java")
        with open(path, "w") as f:
            f.write(family(suffix, species, lanes, max_mr, unroll))
        print("wrote", os.path.relpath(path, root))


if __name__ == "__main__":
    main()
