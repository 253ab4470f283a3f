package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Pickle;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.TensorFile;
import io.jdiffusion.io.TorchCheckpoint;
import io.jdiffusion.tensor.Weight;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A textual-inversion embedding file: the vectors a token in the prompt stands for. Binding them to the
 * token is the prompt encoder's business; this only reads them, from any of the layouts in use:
 * <ul>
 * <li>A1111 {@code .pt}: {@code {'string_to_token': ..., 'string_to_param': {'*': tensor [n, dim]}, 'name': ...}},
 *     read through the allow-list unpickler ({@link TorchCheckpoint});</li>
 * <li>the original textual-inversion code's {@code .pt}, whose {@code string_to_param} is a torch
 *     {@code ParameterDict} (kept as inert data, its {@code _parameters} read);</li>
 * <li>A1111 {@code .safetensors}: {@code emb_params [n, dim]};</li>
 * <li>SDXL {@code .safetensors}: {@code clip_l [n, 768]} and {@code clip_g [n, 1280]};</li>
 * <li>diffusers {@code learned_embeds.bin} / {@code .safetensors}: one entry {@code <token>: [dim]} or {@code [n, dim]}.</li>
 * </ul>
 *
 * @param name     the name the prompt uses for it: the file name without extension, as in A1111
 * @param vectors  [n, dim] for the (first) text encoder
 * @param vectorsG [n, dim] for SDXL's second text encoder, or null
 */
public record TextualInversion(String name, Weight vectors, Weight vectorsG) {

    public static TextualInversion read(Path file) {
        if (!Files.isRegularFile(file)) throw new JDiffusionException(file + ": no such embedding file");
        String name = Loras.displayName(file);
        TensorFile tf = TensorFile.open(file);
        Map<String, Weight> t = tf.tensors();
        if (tf instanceof TorchCheckpoint ckpt && ckpt.root() instanceof Map<?, ?> root && root.containsKey("string_to_param")) {
            return new TextualInversion(name, matrix(file, "string_to_param", stringToParam(file, root.get("string_to_param"))), null);
        }
        if (t.containsKey("emb_params")) return new TextualInversion(name, matrix(file, "emb_params", t.get("emb_params")), null);
        if (t.containsKey("clip_l") && t.containsKey("clip_g")) {
            return new TextualInversion(name, matrix(file, "clip_l", t.get("clip_l")), matrix(file, "clip_g", t.get("clip_g")));
        }
        if (t.size() == 1 && tf.unreadable().isEmpty()) {
            var only = t.entrySet().iterator().next();
            return new TextualInversion(name, matrix(file, only.getKey(), only.getValue()), null);
        }
        String kind = tf instanceof SafeTensors ? "safetensors" : "PyTorch";
        throw new JDiffusionException(file + ": not a textual-inversion embedding (a " + kind
                + " file without string_to_param, emb_params, clip_l/clip_g or a single vector)");
    }

    /** The one vector tensor of {@code string_to_param}: a plain dict (A1111) or a ParameterDict (the original code). */
    private static Weight stringToParam(Path file, Object value) {
        Object params = value;
        if (value instanceof Pickle.Instance inst && inst.state() instanceof Map<?, ?> state) params = state.get("_parameters");
        if (!(params instanceof Map<?, ?> map) || map.size() != 1 || !(map.values().iterator().next() instanceof TorchCheckpoint.StoredTensor t)) {
            throw new JDiffusionException(file + ": string_to_param does not hold exactly one tensor");
        }
        return t.toWeight("string_to_param");
    }

    /** [n, dim] as stored, or [dim] seen as one vector. */
    private static Weight matrix(Path file, String what, Weight w) {
        if (w.rank() == 1) return w.reshape(w.name(), 1, w.dim(0));
        if (w.rank() == 2) return w;
        throw new JDiffusionException(file + ": embedding '" + what + "' has shape " + w.shapeString() + ", expected [vectors, width]");
    }

    /** Number of tokens the embedding stands for. */
    public int vectorCount() {
        return vectors.dim(0);
    }
}
