package io.jdiffusion.model;

import io.jdiffusion.tensor.Weight;

import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * What becomes of one tensor of an original-layout checkpoint in the internal (diffusers/transformers)
 * naming. Every conversion is a view of the mapped file: nothing is copied.
 */
sealed interface Conversion {

    /** The same tensor under the internal name. */
    record Rename(String target) implements Conversion {
    }

    /** A 1×1 convolution weight [out, in, 1, 1] seen as the linear weight [out, in] it is (VAE attention). */
    record ConvToLinear(String target) implements Conversion {
    }

    /** A fused projection split into equal row blocks, in order (OpenCLIP's in_proj → q, k, v). */
    record SplitRows(String... targets) implements Conversion {
    }

    /**
     * A matrix stored the other way round: OpenCLIP keeps its text projection as [hidden, projection] and
     * multiplies x · P, where a linear layer's weight is [projection, hidden]. The one conversion that
     * copies (a small matrix, kept in its stored dtype).
     */
    record Transpose(String target) implements Conversion {
    }

    /** Not used by the model (training state, buffers the network recomputes, unused heads). */
    record Drop() implements Conversion {
    }

    Conversion DROP = new Drop();

    /** Applies this conversion to the tensor {@code w}, putting the results into {@code out}. */
    default void apply(Weight w, Map<String, Weight> out) {
        switch (this) {
            case Rename r -> out.put(r.target(), new Weight(r.target(), w.dtype(), w.shape(), w.data()));
            case ConvToLinear c -> {
                long[] s = w.shape();
                boolean conv1x1 = s.length == 4 && s[2] == 1 && s[3] == 1;
                out.put(c.target(), conv1x1 ? w.reshape(c.target(), s[0], s[1]) : w.reshape(c.target(), s));
            }
            case SplitRows split -> {
                int parts = split.targets().length;
                long rows = w.shape()[0];
                if (w.rank() == 0 || rows % parts != 0) {
                    throw new IllegalArgumentException(w.name() + ": " + rows + " rows do not split into " + parts);
                }
                for (int i = 0; i < parts; i++) {
                    out.put(split.targets()[i], w.sliceRows(split.targets()[i], i * rows / parts, rows / parts));
                }
            }
            case Transpose t -> out.put(t.target(), transposed(t.target(), w));
            case Drop d -> {
            }
        }
    }

    private static Weight transposed(String name, Weight w) {
        if (w.rank() != 2) throw new IllegalArgumentException(w.name() + ": only a matrix can be transposed");
        long rows = w.shape()[0], cols = w.shape()[1];
        long size = w.dtype().bytes;
        MemorySegment copy = MemorySegment.ofArray(new byte[Math.toIntExact(w.data().byteSize())]);
        for (long r = 0; r < rows; r++) {
            for (long c = 0; c < cols; c++) {
                MemorySegment.copy(w.data(), (r * cols + c) * size, copy, (c * rows + r) * size, size);
            }
        }
        return new Weight(name, w.dtype(), new long[]{cols, rows}, copy);
    }
}
