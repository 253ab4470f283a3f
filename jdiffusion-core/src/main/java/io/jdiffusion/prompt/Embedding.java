package io.jdiffusion.prompt;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.addon.TextualInversion;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A textual-inversion embedding bound to the word that calls it: vectors that stand in for the word's
 * token embeddings, one token slot each. SD 1.x/2.x files hold one tensor [vectors, width] (or [width]);
 * SDXL files hold one per text encoder, {@code clip_l} and {@code clip_g}. The file is read by
 * {@link TextualInversion}.
 *
 * @param name    the word that calls it
 * @param source  the file, for messages
 * @param vectors tensor name → [vectors, width]: one tensor that serves every text encoder, or
 *                {@code clip_l} and {@code clip_g}
 */
public record Embedding(String name, String source, Map<String, Tensor> vectors) {

    /** The most vectors one embedding may have: they must fit in one 75-token chunk. */
    public static final int MAX_VECTORS = 75;

    /** The tensor names of an SDXL embedding, one per text encoder. */
    public static final String SDXL_FIRST = "clip_l", SDXL_SECOND = "clip_g";

    /**
     * Reads the file in any layout {@link TextualInversion} reads (A1111 {@code .pt} through the allow-list
     * unpickler, A1111/SDXL/diffusers {@code .safetensors}, diffusers {@code learned_embeds.bin}).
     */
    public static Embedding load(EmbeddingFile file) {
        Path path = file.file();
        if (!Files.exists(path)) throw new JDiffusionException("--embedding: " + path + ": no such file");
        TextualInversion read;
        try {
            read = TextualInversion.read(path);
        } catch (JDiffusionException e) {
            throw new JDiffusionException("--embedding: " + e.getMessage());
        }
        Map<String, Tensor> vectors = new LinkedHashMap<>();
        if (read.vectorsG() == null) {
            vectors.put(read.vectors().name(), matrix(read.vectors()));
        } else {
            vectors.put(SDXL_FIRST, matrix(read.vectors()));
            vectors.put(SDXL_SECOND, matrix(read.vectorsG()));
            if (read.vectors().dim(0) != read.vectorsG().dim(0)) {
                throw new JDiffusionException("--embedding: " + path + ": " + SDXL_FIRST + " has " + read.vectors().dim(0) + " vectors but "
                        + SDXL_SECOND + " " + read.vectorsG().dim(0) + "; both text encoders need the same number");
            }
        }
        int n = read.vectorCount();
        if (n < 1 || n > MAX_VECTORS) {
            throw new JDiffusionException("--embedding: " + path + ": " + n + " vectors; 1.." + MAX_VECTORS + " fit in a prompt");
        }
        return new Embedding(file.token(), path.toString(), vectors);
    }

    private static Tensor matrix(Weight w) {
        return new Tensor(w.toFloats(), w.dim(0), w.dim(1));
    }

    /**
     * The vectors for one text encoder, checked against its width.
     *
     * @param encoderKey  which of an SDXL file's tensors this encoder takes ("clip_l" or "clip_g"); files with
     *                    one tensor serve every encoder
     * @param width       the encoder's hidden size
     * @param modelSource the model, for the message
     */
    public Tensor vectorsFor(String encoderKey, int width, String modelSource) {
        Tensor v = vectors.size() == 1 ? vectors.values().iterator().next() : vectors.get(encoderKey);
        if (v == null) {
            throw new JDiffusionException("embedding '" + name + "' (" + source + ") has no vectors named '" + encoderKey
                    + "' for this model's text encoder (" + modelSource + ")");
        }
        if (v.dim(1) != width) {
            throw new JDiffusionException("embedding '" + name + "' (" + source + ") has vectors " + v.dim(1)
                    + " wide, but the text encoder of " + modelSource + " takes " + width
                    + " (an embedding made for another model family?)");
        }
        return v;
    }

    /** Whether this embedding has vectors for that text encoder, of its width (see {@link #vectorsFor}). */
    public boolean fits(String encoderKey, int width) {
        Tensor v = vectors.size() == 1 ? vectors.values().iterator().next() : vectors.get(encoderKey);
        return v != null && v.dim(1) == width;
    }

    public int vectorCount() {
        return vectors.values().iterator().next().dim(0);
    }
}
