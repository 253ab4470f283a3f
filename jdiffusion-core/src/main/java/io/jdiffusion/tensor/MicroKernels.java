package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked FMA micro-kernels for one vector width (generated subclasses, see
 * tools/gen_kernels.py). A kernel computes one tile of C, {@code mr} rows by {@link #nr} columns:
 * {@code C[i][j] (+)= Σ_p A(i, p) · b[bo + p·nr + j]} for p below kc, B being a packed panel [kc][nr].
 * Only full-width tiles are computed: a caller with fewer columns left computes into a scratch tile.
 */
abstract class MicroKernels {
    /** The vector shape the kernels are written for. */
    final VectorSpecies<Float> species;
    /** Columns of a tile: two vectors. */
    final int nr;
    /** The most rows one tile may have (what the register file holds); every count from 1 up exists. */
    final int maxMr;

    MicroKernels(VectorSpecies<Float> species, int nr, int maxMr) {
        this.species = species;
        this.nr = nr;
        this.maxMr = maxMr;
    }

    /** A "k-major": A(i, p) = a[ao + p·as + i] (packed panels with as = their height, or Vᵀ read in place). */
    abstract void packed(int mr, float[] a, int ao, int as, float[] b, int bo, int kc, float[] c, int co, int ldc, boolean acc);

    /** A row-major: A(i, p) = a[ao + i·lda + p] (activations or keys read in place). */
    abstract void rows(int mr, float[] a, int ao, int lda, float[] b, int bo, int kc, float[] c, int co, int ldc, boolean acc);

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
