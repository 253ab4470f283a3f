package io.jdiffusion.model.unet;

import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

/** A checkpoint's LayerNorm {@code <name>.weight}, {@code <name>.bias} over the last dim. */
public record LayerNorm(Weight gamma, Weight beta, float eps) {

    public static LayerNorm load(Weights w, String name, int features, double eps) {
        return new LayerNorm(w.get(name + ".weight", features), w.get(name + ".bias", features), (float) eps);
    }

    public Tensor apply(Tensor x) {
        return Ops.layerNorm(x, gamma, beta, eps);
    }
}
