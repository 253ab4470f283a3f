package io.jdiffusion.prompt;

import io.jdiffusion.tensor.Tensor;

/**
 * A prompt encoded by one text encoder.
 *
 * @param context [1, 77·k, width]: the k chunks' token states, concatenated
 * @param pooled  [1, P]: the first chunk's pooled output (as A1111 takes it), or null when not asked for
 */
public record PromptEmbedding(Tensor context, Tensor pooled) {

    /** The number of 77-token chunks. */
    public int chunks(int rowLength) {
        return context.dim(1) / rowLength;
    }

    /**
     * This context lengthened to {@code tokens} positions with copies of {@code empty}'s (the encoded empty
     * prompt), as A1111 pads the shorter of prompt and negative prompt so both go through the UNet together.
     */
    public PromptEmbedding padTo(int tokens, PromptEmbedding empty) {
        return new PromptEmbedding(padContext(context, tokens, empty.context()), pooled);
    }

    /** A context [1, T, width] lengthened to {@code tokens} positions with copies of {@code empty} [1, 77, width]. */
    public static Tensor padContext(Tensor context, int tokens, Tensor empty) {
        int have = context.dim(1), width = context.dim(2), block = empty.dim(1);
        if (have >= tokens) return context;
        if ((tokens - have) % block != 0) {
            throw new IllegalArgumentException("cannot pad " + have + " tokens to " + tokens + " with blocks of " + block);
        }
        float[] out = new float[tokens * width];
        System.arraycopy(context.data, 0, out, 0, have * width);
        for (int at = have; at < tokens; at += block) System.arraycopy(empty.data, 0, out, at * width, block * width);
        return new Tensor(out, 1, tokens, width);
    }
}
