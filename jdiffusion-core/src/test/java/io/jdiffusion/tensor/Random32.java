package io.jdiffusion.tensor;

import io.jdiffusion.testing.Fixtures;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Random test data: tensors, weights in each stored dtype, and the comparison the kernel tests use. */
final class Random32 {
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Random random;

    Random32(long seed) {
        random = new Random(seed);
    }

    /** Uniform in [-1, 1) plus an offset, so that no value is special. */
    float[] floats(int n, float offset) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = offset + 2 * random.nextFloat() - 1;
        return a;
    }

    float[] floats(int n) {
        return floats(n, 0f);
    }

    Tensor tensor(int... shape) {
        return new Tensor(floats(Tensor.numel(shape)), shape);
    }

    /** A weight of random values stored as dtype (the values are rounded to it first). */
    Weight weight(DType dtype, String name, long... shape) {
        return weight(dtype, name, floats(Math.toIntExact(Weight.numel(shape))), shape);
    }

    static Weight weight(DType dtype, String name, float[] values, long... shape) {
        if (dtype == DType.F32) return Weight.ofFloats(name, values, shape);
        MemorySegment seg = MemorySegment.ofArray(new byte[values.length * 2]);
        for (int i = 0; i < values.length; i++) {
            short bits = dtype == DType.F16 ? Float.floatToFloat16(values[i])
                    : (short) (Float.floatToRawIntBits(values[i]) >>> 16);
            seg.set(I16_LE, 2L * i, bits);
        }
        return new Weight(name, dtype, shape, seg);
    }

    /** ‖actual − expected‖ / ‖expected‖ within tolerance, and the shapes equal. */
    static void assertClose(Tensor actual, Tensor expected, double tolerance) {
        assertThat(actual.shape).isEqualTo(expected.shape);
        assertClose(actual.data, expected.data, tolerance);
    }

    static void assertClose(float[] actual, float[] expected, double tolerance) {
        for (float v : actual) assertThat(Float.isFinite(v)).as("finite output").isTrue();
        assertThat(Fixtures.relativeError(actual, expected)).isLessThanOrEqualTo(tolerance);
    }
}
