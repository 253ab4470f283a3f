package io.jdiffusion.io;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Weight;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A file of named tensors, whatever its format: a .safetensors file, or a PyTorch checkpoint
 * (.ckpt / .pt / .bin / .pth) read through the allow-list unpickler. The tensors stay where they are
 * (memory-mapped) in their stored dtype.
 */
public interface TensorFile {

    Path path();

    /** The tensors the engine can read (F32, F16, BF16). */
    Map<String, Weight> tensors();

    /** Tensors of a dtype the engine does not compute with (I64 position ids, ...): name → dtype. */
    Map<String, String> unreadable();

    /** The tensor of that name; refuses a missing one, or one of a dtype we cannot read, by name. */
    default Weight get(String name) {
        Weight w = tensors().get(name);
        if (w != null) return w;
        String dtype = unreadable().get(name);
        if (dtype != null) {
            throw new JDiffusionException(path() + ": tensor '" + name + "' has unsupported dtype " + dtype + " (supported: F32, F16, BF16)");
        }
        throw new JDiffusionException(path() + ": missing tensor '" + name + "'");
    }

    /**
     * Opens the file by what it holds, not by its extension: safetensors, or a torch.save checkpoint
     * (zip archive, or the older format of several pickles in a row). A pickle that names anything but
     * tensors, storages and plain containers is refused and nothing of it runs ({@link TorchCheckpoint}).
     */
    static TensorFile open(Path path) {
        if (Files.isDirectory(path)) throw new JDiffusionException(path + ": is a directory, not a weights file");
        if (!Files.exists(path)) throw new JDiffusionException(path + ": no such file");
        if (SafeTensors.looksLikeSafetensors(path)) return SafeTensors.open(path);
        if (TorchCheckpoint.looksLikeTorch(path)) return TorchCheckpoint.open(path);
        String name = path.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".safetensors")) return SafeTensors.open(path); // its own message says what is wrong
        throw new JDiffusionException(path + ": not a weights file (neither safetensors nor a PyTorch checkpoint)");
    }

    /** True when the file starts like a safetensors file or a PyTorch checkpoint. */
    static boolean looksLikeWeights(Path path) {
        return SafeTensors.looksLikeSafetensors(path) || TorchCheckpoint.looksLikeTorch(path);
    }
}
