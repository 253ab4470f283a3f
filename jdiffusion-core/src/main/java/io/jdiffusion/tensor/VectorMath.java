package io.jdiffusion.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Transcendental functions on float vectors built only from IEEE add, multiply and fused multiply-add,
 * so that every run gives the same bits. The Vector API's own {@code lanewise(EXP)} is not usable for
 * that: compiled code calls an intrinsic math library while interpreted code falls back to Math.exp, so
 * the first generation in a JVM (before the JIT has compiled the kernels) would differ from later ones
 * in the last bit, and a seed would not always give the same image.
 */
final class VectorMath {
    private VectorMath() {
    }

    private static final float LOG2E = 1.44269504088896341f;
    // ln 2 split in two so that n·ln2 is subtracted without rounding error (Cody and Waite)
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    // the minimax polynomial for (e^r − 1 − r)/r² on |r| ≤ ln2/2 (Cephes expf coefficients)
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    /** Adding then subtracting 1.5·2^23 rounds a float to the nearest integer. */
    private static final float ROUND = 12582912f;
    /** Below this e^x is under the smallest normal float: the result is 0. */
    private static final float UNDERFLOW = -87.33f;
    /** Above this 2^n would overflow the exponent; e^88 is already 1.65e38. */
    private static final float OVERFLOW = 88.0f;

    /** e^x per lane, relative error below 2.5e-7; 0 for x below about −87.3 (and for −∞). */
    static FloatVector exp(FloatVector x) {
        var underflow = x.compare(VectorOperators.LT, UNDERFLOW);
        FloatVector xc = x.max(UNDERFLOW).min(OVERFLOW);
        FloatVector n = xc.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(x.species(), -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(x.species(), -LN2_LO), r);
        FloatVector p = r.mul(P0).add(P1);
        p = p.fma(r, FloatVector.broadcast(x.species(), P2));
        p = p.fma(r, FloatVector.broadcast(x.species(), P3));
        p = p.fma(r, FloatVector.broadcast(x.species(), P4));
        p = p.fma(r, FloatVector.broadcast(x.species(), P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats()).blend(0f, underflow);
    }

    /**
     * 2^f ≈ Σ EXP2_POLY[k]·f^k on |f| ≤ ½: degree 6, fitted for the least worst relative error (Lawson's
     * iteration on 4001 Chebyshev points, coefficients rounded to float): 9.6e-8 evaluated in float, where
     * the Taylor series needs degree 7 for 1e-7. The constant term is exactly 1, so 2^n is exact.
     */
    private static final float[] EXP2_POLY = {1f, 0.6931472f, 0.24022646f, 0.055503286f, 0.009618489f, 0.0013399931f, 1.5345812e-4f};
    /** The exponent field of 1.0f: added to n << 23, it makes the float 2^n. */
    private static final int ONE_BITS = 127 << 23;

    /**
     * 2^x per lane for x ≤ 0, as the softmax needs it (exponents measured from the maximum): relative error
     * about 1e-7; x below −126 (−∞ included) gives 2^−126 ≈ 1.2e-38 rather than 0, negligible beside the
     * maximum's 1 in a softmax sum. Cheaper than {@link #exp}: no clamp above, no mask, no ln 2 reduction,
     * and no float-to-int conversion: x + 1.5·2^23 holds n = round(x) in its low mantissa bits, and those
     * shifted into the exponent field (the bits above drop out of the 32) give 2^n with the bias added.
     */
    static FloatVector exp2NonPositive(FloatVector x) {
        var species = x.species();
        FloatVector xc = x.max(-126f);
        FloatVector shifted = xc.add(ROUND);
        FloatVector f = xc.sub(shifted.sub(ROUND)); // x − n, in [−½, ½]
        FloatVector p = f.fma(FloatVector.broadcast(species, EXP2_POLY[6]), FloatVector.broadcast(species, EXP2_POLY[5]));
        p = p.fma(f, FloatVector.broadcast(species, EXP2_POLY[4]));
        p = p.fma(f, FloatVector.broadcast(species, EXP2_POLY[3]));
        p = p.fma(f, FloatVector.broadcast(species, EXP2_POLY[2]));
        p = p.fma(f, FloatVector.broadcast(species, EXP2_POLY[1]));
        p = p.fma(f, FloatVector.broadcast(species, EXP2_POLY[0]));
        IntVector bits = shifted.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).add(ONE_BITS);
        return p.mul(bits.reinterpretAsFloats());
    }

    /**
     * The lanes' sum in lane order, in double. reduceLanes(ADD) leaves the order to the implementation
     * (it differs between compiled and interpreted code), which would make results depend on the JIT.
     */
    static double sumLanes(FloatVector v) {
        double total = 0;
        for (int i = 0; i < v.length(); i++) total += v.lane(i);
        return total;
    }
}
