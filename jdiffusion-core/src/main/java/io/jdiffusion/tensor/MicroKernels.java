package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked FMA micro-kernels for one vector width (generated subclasses, see
 * tools/gen_kernels.py). A kernel computes one tile of C, {@code mr} rows by {@link #nr} columns:
 * {@code C[i][j] (+)= Σ_p A(i, p) · b[bo + p·nr + j]} for p below kc, B being a packed panel [kc][nr].
 * Only full-width tiles are computed: a caller with fewer columns left computes into a scratch tile.
 *
 * <p>A comes in two layouts. The GEMM packs its A blocks as row panels at the fixed {@link #rowStride},
 * which every kernel knows as a constant: a row address is then one pointer plus a constant, where a
 * variable stride costs a register per row (x86 has too few for 14 rows, and the spills cost ~17%).
 * Attention gathers its keys and values "k-major", in panels of maxMr rows (a depth step's rows are
 * consecutive floats), at a stride the kernels know as a constant too.
 *
 * <p>A product uses one kernel height throughout (as many rows as keep its tiles even, at most {@link #maxMr}),
 * computing ragged edges whole; every height is compiled by the warm-up, since a rarely called Vector API
 * method runs interpreted or in C1, some 50× slower, long before C2 compiles it.
 */
abstract class MicroKernels {
    /** The vector shape the kernels are written for. */
    final VectorSpecies<Float> species;
    /** Columns of a tile: two vectors. */
    final int nr;
    /** The most rows one tile may have (what the register file holds). */
    final int maxMr;
    /** Floats between the rows of a row panel: the deepest block {@link #rowPanel} takes, plus a pad. */
    final int rowStride;

    MicroKernels(VectorSpecies<Float> species, int nr, int maxMr, int rowStride) {
        this.species = species;
        this.nr = nr;
        this.maxMr = maxMr;
        this.rowStride = rowStride;
    }

    /** A as row panel of mr rows (1 to maxMr): A(i, p) = a[ao + i·rowStride + p], kc at most rowStride. */
    abstract void rowPanel(int mr, float[] a, int ao, float[] b, int bo, int kc, float[] c, int co, int ldc, boolean acc);

    /** A "k-major" in a panel of maxMr rows: A(i, p) = a[ao + p·maxMr + i]. */
    abstract void packed(float[] a, int ao, float[] b, int bo, int kc, float[] c, int co, int ldc, boolean acc);

    /**
     * The kernels this machine runs best: the widest vectors the CPU has ({@code SPECIES_PREFERRED});
     * {@code -Djdiffusion.simd=512|256|128} overrides it (benchmarks, tests of the narrower sets).
     */
    static final MicroKernels PREFERRED = forBits(Integer.getInteger("jdiffusion.simd",
            FloatVector.SPECIES_PREFERRED.vectorBitSize()));

    static MicroKernels forBits(int bits) {
        if (bits >= 512) return new MicroKernels512();
        if (bits >= 256) return new MicroKernels256();
        return new MicroKernels128();
    }
}
