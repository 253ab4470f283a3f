package io.jdiffusion.model.unet;

import io.jdiffusion.tensor.Tensor;

/**
 * What the key and value projections of the UNet's attention layers see: the context itself (text for
 * cross-attention, the tokens for self-attention), or a transform of it, as A1111's hypernetworks do.
 */
public interface AttentionInputs {
    /** The context as it is: the plain UNet. */
    AttentionInputs NONE = new AttentionInputs() {
        @Override
        public Tensor keys(Tensor context) {
            return context;
        }

        @Override
        public Tensor values(Tensor context) {
            return context;
        }
    };

    /** The input of to_k for this context [B, S, width]. */
    Tensor keys(Tensor context);

    /** The input of to_v for this context [B, S, width]. */
    Tensor values(Tensor context);
}
