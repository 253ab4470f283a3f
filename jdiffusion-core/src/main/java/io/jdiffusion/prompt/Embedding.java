package io.jdiffusion.prompt;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A textual-inversion embedding: vectors that stand in for a word's token embeddings, one token slot
 * each. SD 1.x/2.x files hold one tensor [vectors, width] (or [width]) under any name (A1111 saves
 * {@code emb_params}, diffusers the token); SDXL files hold one per text encoder, {@code clip_l} and
 * {@code clip_g}.
 *
 * @param name    the word that calls it
 * @param source  the file, for messages
 * @param vectors tensor name → [vectors, width]
 */
public record Embedding(String name, String source, Map<String, Tensor> vectors) {

    /** The most vectors one embedding may have: they must fit in one 75-token chunk. */
    public static final int MAX_VECTORS = 75;

    public static Embedding load(EmbeddingFile file) {
        Path path = file.file();
        String lower = path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (lower.endsWith(".pt") || lower.endsWith(".bin") || lower.endsWith(".ckpt")) {
            throw new JDiffusionException("--embedding: " + path + ": pickled embeddings (.pt, .bin) are not read yet; "
                    + "use a .safetensors embedding");
        }
        if (!Files.exists(path)) throw new JDiffusionException("--embedding: " + path + ": no such file");
        SafeTensors st;
        try {
            st = SafeTensors.open(path);
        } catch (JDiffusionException e) {
            throw new JDiffusionException("--embedding: " + e.getMessage());
        }
        Map<String, Tensor> vectors = new LinkedHashMap<>();
        for (Map.Entry<String, Weight> e : st.tensors().entrySet()) {
            Weight w = e.getValue();
            if (w.rank() != 1 && w.rank() != 2) {
                throw new JDiffusionException("--embedding: " + path + ": tensor '" + e.getKey() + "' has shape "
                        + w.shapeString() + ", expected [vectors, width]");
            }
            int rows = w.rank() == 2 ? w.dim(0) : 1, width = w.dim(w.rank() - 1);
            vectors.put(e.getKey(), new Tensor(w.toFloats(), rows, width));
        }
        if (vectors.isEmpty()) throw new JDiffusionException("--embedding: " + path + ": holds no float tensors");
        if (vectors.size() > 1 && !(vectors.containsKey("clip_l") && vectors.containsKey("clip_g"))) {
            throw new JDiffusionException("--embedding: " + path + ": holds " + vectors.size() + " tensors " + vectors.keySet()
                    + "; an embedding file holds one (or clip_l and clip_g for SDXL)");
        }
        for (Map.Entry<String, Tensor> e : vectors.entrySet()) {
            int n = e.getValue().dim(0);
            if (n < 1 || n > MAX_VECTORS) {
                throw new JDiffusionException("--embedding: " + path + ": " + n + " vectors; 1.." + MAX_VECTORS + " fit in a prompt");
            }
        }
        return new Embedding(file.token(), path.toString(), vectors);
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

    public int vectorCount() {
        return vectors.values().iterator().next().dim(0);
    }
}
