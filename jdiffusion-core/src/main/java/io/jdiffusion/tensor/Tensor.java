package io.jdiffusion.tensor;

import java.util.Arrays;

/**
 * A dense float32 activation tensor, row-major and contiguous. Images and feature maps are NCHW
 * ({@code [batch, channels, height, width]}); token sequences are {@code [batch, tokens, channels]}.
 */
public final class Tensor {
    public final int[] shape;
    public final float[] data;

    public Tensor(float[] data, int... shape) {
        if (data.length != numel(shape)) {
            throw new IllegalArgumentException(data.length + " values for shape " + Arrays.toString(shape));
        }
        this.shape = shape.clone();
        this.data = data;
    }

    public static Tensor zeros(int... shape) {
        return new Tensor(new float[numel(shape)], shape);
    }

    public static int numel(int... shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return Math.toIntExact(n);
    }

    public int numel() {
        return data.length;
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dim i; negative i counts from the end. */
    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    /** The same values seen with another shape of the same element count (no copy). */
    public Tensor reshape(int... newShape) {
        return new Tensor(data, newShape);
    }

    public Tensor copy() {
        return new Tensor(data.clone(), shape);
    }

    /** Items [from, from+count) along dim 0, copied. */
    public Tensor slice0(int from, int count) {
        int per = data.length / shape[0];
        int[] s = shape.clone();
        s[0] = count;
        return new Tensor(Arrays.copyOfRange(data, from * per, (from + count) * per), s);
    }

    /** Tensors of equal shape except dim 0, stacked along dim 0. */
    public static Tensor cat0(Tensor... parts) {
        int total = 0, n = 0;
        for (Tensor t : parts) {
            total += t.shape[0];
            n += t.data.length;
        }
        float[] out = new float[n];
        int off = 0;
        for (Tensor t : parts) {
            System.arraycopy(t.data, 0, out, off, t.data.length);
            off += t.data.length;
        }
        int[] s = parts[0].shape.clone();
        s[0] = total;
        return new Tensor(out, s);
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return "Tensor" + shapeString();
    }
}
