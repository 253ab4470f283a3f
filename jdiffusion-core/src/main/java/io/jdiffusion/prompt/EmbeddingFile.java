package io.jdiffusion.prompt;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.addon.ModelsDir;

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
 * @param file  an embedding file in any layout {@link io.jdiffusion.model.addon.TextualInversion} reads (A1111
 *              {@code .pt} or {@code .safetensors}, a diffusers {@code learned_embeds}, SDXL's {@code clip_l}/{@code clip_g})
 * @param fromFolder found in an embeddings folder rather than named: as in A1111, such a file is skipped (its name
 *                   stays a plain word) when it cannot be read or was made for another model's text encoder,
 *                   since one folder commonly serves several model families; a named file must fit
 */
public record EmbeddingFile(String token, Path file, boolean fromFolder) {

    /** A file the user named. */
    public EmbeddingFile(String token, Path file) {
        this(token, file, false);
    }

    /** {@code TOKEN=FILE}, as {@code --embedding} takes it. */
    public static EmbeddingFile parse(String spec) {
        int eq = spec.indexOf('=');
        if (eq <= 0 || eq == spec.length() - 1 || spec.substring(0, eq).isBlank()) {
            throw new JDiffusionException("--embedding: '" + spec + "' is not TOKEN=FILE");
        }
        return new EmbeddingFile(spec.substring(0, eq).strip(), Path.of(spec.substring(eq + 1)));
    }

    /** The extensions of embedding files in a folder, as A1111 finds them. */
    static final List<String> EXTENSIONS = List.of(".pt", ".bin", ".safetensors");

    /** Every embedding file in the folder ({@link #EXTENSIONS}), named by its file name without the extension (sorted by name). */
    public static List<EmbeddingFile> inDirectory(Path dir) {
        if (!Files.isDirectory(dir)) throw new JDiffusionException("--embeddings-dir: " + dir + ": no such directory");
        List<EmbeddingFile> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                String name = p.getFileName().toString(), lower = name.toLowerCase(Locale.ROOT);
                if (!Files.isRegularFile(p)) continue;
                for (String ext : EXTENSIONS) {
                    if (lower.endsWith(ext) && name.length() > ext.length()) out.add(new EmbeddingFile(name.substring(0, name.length() - ext.length()), p, true));
                }
            }
        } catch (IOException e) {
            throw new JDiffusionException("--embeddings-dir: " + dir + ": cannot list (" + e.getMessage() + ")");
        }
        return out;
    }

    /** The embeddings of an A1111 folder ({@code embeddings/}, subfolders included), each named by its file name. */
    public static List<EmbeddingFile> inModelsDir(ModelsDir models) {
        List<EmbeddingFile> out = new ArrayList<>();
        for (ModelsDir.Entry e : models.list(ModelsDir.Kind.EMBEDDING)) {
            String name = e.name().substring(e.name().lastIndexOf('/') + 1);
            if (!name.isEmpty()) out.add(new EmbeddingFile(name, e.path(), true));
        }
        return out;
    }
}
