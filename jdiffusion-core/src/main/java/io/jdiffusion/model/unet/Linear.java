package io.jdiffusion.model.unet;

import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

/** A checkpoint's linear layer {@code <name>.weight [out, in]} and optional {@code <name>.bias [out]}. */
public record Linear(Weight weight, Weight bias) {

    public static Linear load(Weights w, String name, int outFeatures, int inFeatures, boolean hasBias) {
        return new Linear(w.get(name + ".weight", outFeatures, inFeatures),
                hasBias ? w.get(name + ".bias", outFeatures) : null);
    }

    /**
     * A 1×1 convolution ({@code [out, in, 1, 1]}) seen as a linear layer over the channels of a token
     * sequence: the same function, applied after {@link Ops#toTokens}.
     */
    public static Linear loadConv1x1(Weights w, String name, int outFeatures, int inFeatures) {
        Weight kernel = w.get(name + ".weight", outFeatures, inFeatures, 1, 1);
        return new Linear(kernel.reshape(kernel.name(), outFeatures, inFeatures), w.get(name + ".bias", outFeatures));
    }

    /**
     * A per-token projection stored either way: {@code [out, in]} (diffusers) or {@code [out, in, 1, 1]}
     * (original-layout checkpoints, e.g. the VAE's attention q/k/v/proj_out), with its bias.
     */
    public static Linear loadLinearOrConv1x1(Weights w, String name, int outFeatures, int inFeatures) {
        return w.get(name + ".weight").rank() == 4 ? loadConv1x1(w, name, outFeatures, inFeatures)
                : load(w, name, outFeatures, inFeatures, true);
    }

    public int outFeatures() {
        return weight.dim(0);
    }

    public Tensor apply(Tensor x) {
        return Ops.linear(x, weight, bias);
    }
}
