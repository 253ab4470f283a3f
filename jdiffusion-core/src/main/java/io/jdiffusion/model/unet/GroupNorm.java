package io.jdiffusion.model.unet;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

/** A checkpoint's GroupNorm {@code <name>.weight}, {@code <name>.bias} over {@code channels}. */
public record GroupNorm(Weight gamma, Weight beta, int groups, float eps) {

    public static GroupNorm load(Weights w, String name, int channels, int groups, double eps) {
        if (groups <= 0 || channels % groups != 0) {
            throw new JDiffusionException(w.source() + ": '" + name + "' has " + channels
                    + " channels, not divisible into " + groups + " norm groups");
        }
        return new GroupNorm(w.get(name + ".weight", channels), w.get(name + ".bias", channels), groups, (float) eps);
    }

    public Tensor apply(Tensor x) {
        return Ops.groupNorm(x, groups, gamma, beta, eps, false);
    }

    /** The norm followed by SiLU, as every ResNet block and the networks' outputs use it. */
    public Tensor applySilu(Tensor x) {
        return Ops.groupNorm(x, groups, gamma, beta, eps, true);
    }
}
