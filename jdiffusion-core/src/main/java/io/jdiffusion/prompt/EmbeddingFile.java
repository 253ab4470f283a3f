package io.jdiffusion.prompt;

import io.jdiffusion.JDiffusionException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A textual-inversion embedding the user named: the word that calls it in prompts, and its file.
 *
 * @param token the word as typed in prompts (matched as A1111 matches embedding names: by its tokens)
 * @param file  a {@code .safetensors} file (A1111's {@code emb_params}, a diffusers {@code learned_embeds}, or
 *              SDXL's {@code clip_l}/{@code clip_g})
 */
public record EmbeddingFile(String token, Path file) {

    /** {@code TOKEN=FILE}, as {@code --embedding} takes it. */
    public static EmbeddingFile parse(String spec) {
        int eq = spec.indexOf('=');
        if (eq <= 0 || eq == spec.length() - 1 || spec.substring(0, eq).isBlank()) {
            throw new JDiffusionException("--embedding: '" + spec + "' is not TOKEN=FILE");
        }
        return new EmbeddingFile(spec.substring(0, eq).strip(), Path.of(spec.substring(eq + 1)));
    }

    /** Every {@code .safetensors} file in the folder, named by its file name without the extension (sorted by name). */
    public static List<EmbeddingFile> inDirectory(Path dir) {
        if (!Files.isDirectory(dir)) throw new JDiffusionException("--embeddings-dir: " + dir + ": no such directory");
        List<EmbeddingFile> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                String name = p.getFileName().toString();
                if (!Files.isRegularFile(p) || !name.toLowerCase(Locale.ROOT).endsWith(".safetensors")) continue;
                out.add(new EmbeddingFile(name.substring(0, name.length() - ".safetensors".length()), p));
            }
        } catch (IOException e) {
            throw new JDiffusionException("--embeddings-dir: " + dir + ": cannot list (" + e.getMessage() + ")");
        }
        return out;
    }
}
