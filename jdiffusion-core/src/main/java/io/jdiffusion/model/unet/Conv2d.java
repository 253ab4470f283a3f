package io.jdiffusion.model.unet;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

/**
 * A checkpoint's 2-D convolution {@code <name>.weight [out, in, k, k]} + {@code <name>.bias [out]}. The kernel
 * size is the stored one; padding is k/2 ("same" size at stride 1) unless the network says otherwise.
 */
public record Conv2d(Weight weight, Weight bias, int stride, int padding) {

    /** A convolution that keeps the size at stride 1 (padding k/2), checked to map inChannels to outChannels. */
    public static Conv2d load(Weights w, String name, int outChannels, int inChannels, int stride) {
        int k = kernelSize(w, name);
        return load(w, name, outChannels, inChannels, stride, k / 2);
    }

    /** A convolution with explicit zero padding on every side. */
    public static Conv2d load(Weights w, String name, int outChannels, int inChannels, int stride, int padding) {
        int k = kernelSize(w, name);
        return new Conv2d(w.get(name + ".weight", outChannels, inChannels, k, k),
                w.get(name + ".bias", outChannels), stride, padding);
    }

    /** The stored square, odd kernel size of {@code <name>.weight}. */
    static int kernelSize(Weights w, String name) {
        Weight raw = w.get(name + ".weight");
        if (raw.rank() != 4 || raw.dim(2) != raw.dim(3) || raw.dim(2) % 2 == 0) {
            throw new JDiffusionException(w.source() + ": tensor '" + name + ".weight' has shape "
                    + raw.shapeString() + ", expected a convolution kernel [out, in, k, k] with odd k");
        }
        return raw.dim(2);
    }

    public int outChannels() {
        return weight.dim(0);
    }

    public Tensor apply(Tensor x) {
        return Ops.conv2d(x, weight, bias, stride, padding);
    }
}
