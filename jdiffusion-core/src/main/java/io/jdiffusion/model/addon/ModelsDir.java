package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;

import java.io.IOException;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A folder of models in AUTOMATIC1111's layout: {@code models/Stable-diffusion} (checkpoints),
 * {@code models/Lora} (and {@code models/LyCORIS}), {@code models/VAE}, {@code models/hypernetworks} and
 * {@code embeddings}. The folder given may be A1111's root (holding {@code models/}) or its {@code models}
 * folder itself. Files are found in subfolders too, as A1111 finds them, by name with or without extension.
 */
public final class ModelsDir {

    /** The kinds of model files, with their folders (relative to the root) and extensions. */
    public enum Kind {
        CHECKPOINT("Checkpoints", List.of("models/Stable-diffusion"), List.of(".safetensors", ".ckpt")),
        LORA("LoRA", List.of("models/Lora", "models/LyCORIS"), List.of(".safetensors", ".pt", ".ckpt")),
        VAE("VAE", List.of("models/VAE"), List.of(".safetensors", ".pt", ".ckpt", ".bin")),
        HYPERNETWORK("Hypernetworks", List.of("models/hypernetworks"), List.of(".pt", ".safetensors")),
        EMBEDDING("Embeddings", List.of("embeddings"), List.of(".pt", ".safetensors", ".bin"));

        public final String displayName;
        final List<String> folders;
        final List<String> extensions;

        Kind(String displayName, List<String> folders, List<String> extensions) {
            this.displayName = displayName;
            this.folders = folders;
            this.extensions = extensions;
        }
    }

    /**
     * A file found: {@code name} is its path below the kind's folder without extension ({@code sub/name}),
     * as A1111 shows it; a diffusers model folder among the checkpoints is listed by its folder name.
     */
    public record Entry(Kind kind, String name, Path path, long bytes) {
    }

    /** How deep below a kind's folder files are looked for. */
    private static final int MAX_DEPTH = 8;

    private final Path root;

    private ModelsDir(Path root) {
        this.root = root;
    }

    /** The A1111 folder at {@code dir} (its root or its models/ folder). */
    public static ModelsDir open(Path dir) {
        if (!Files.isDirectory(dir)) throw new JDiffusionException("--models-dir: " + dir + ": no such directory");
        if (Files.isDirectory(dir.resolve("models"))) return new ModelsDir(dir);
        boolean isModelsFolder = Stream.of("Stable-diffusion", "Lora", "VAE", "hypernetworks").anyMatch(f -> Files.isDirectory(dir.resolve(f)));
        if (isModelsFolder) return new ModelsDir(dir.toAbsolutePath().getParent());
        throw new JDiffusionException("--models-dir: " + dir + ": not an A1111 folder (no models/ with Stable-diffusion, Lora, VAE or hypernetworks)");
    }

    public Path root() {
        return root;
    }

    /** The folders a kind is looked for in (they need not exist). */
    public List<Path> folders(Kind kind) {
        return kind.folders.stream().map(root::resolve).toList();
    }

    /** Every file of that kind, sorted by name. */
    public List<Entry> list(Kind kind) {
        List<Entry> out = new ArrayList<>();
        for (Path folder : folders(kind)) {
            if (!Files.isDirectory(folder)) continue;
            try {
                Files.walkFileTree(folder, Set.of(FileVisitOption.FOLLOW_LINKS), MAX_DEPTH, new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                        if (!dir.equals(folder) && dir.getFileName().toString().startsWith(".")) return FileVisitResult.SKIP_SUBTREE;
                        if (kind == Kind.CHECKPOINT && Files.isRegularFile(dir.resolve("model_index.json"))) {
                            // a diffusers model folder is one model: its component files are not listed
                            out.add(new Entry(kind, nameOf(folder, dir, ""), dir, folderBytes(dir)));
                            return FileVisitResult.SKIP_SUBTREE;
                        }
                        return FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                        String ext = extension(kind, file);
                        if (ext != null && attrs.isRegularFile() && !file.getFileName().toString().startsWith(".")) {
                            out.add(new Entry(kind, nameOf(folder, file, ext), file, attrs.size()));
                        }
                        return FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult visitFileFailed(Path file, IOException e) {
                        return FileVisitResult.CONTINUE; // an unreadable entry is not listed
                    }
                });
            } catch (IOException e) {
                throw new JDiffusionException(folder + ": cannot list (" + e.getMessage() + ")");
            }
        }
        out.sort(Comparator.comparing(Entry::name, String.CASE_INSENSITIVE_ORDER));
        return out;
    }

    /**
     * The file of that kind called {@code name}: its path below the folder with or without extension
     * ({@code sub/name.safetensors}, {@code sub/name}), or only its file name without extension (A1111's
     * {@code <lora:NAME>}). Two files answering to the name is an error naming both.
     */
    public Path find(Kind kind, String name) {
        String wanted = name.replace('\\', '/');
        List<Entry> all = list(kind);
        List<Entry> exact = all.stream().filter(e -> e.name().equals(wanted) || relative(e).equals(wanted)).toList();
        List<Entry> matches = !exact.isEmpty() ? exact : all.stream().filter(e -> baseName(e.name()).equals(wanted)).toList();
        if (matches.isEmpty()) {
            throw new JDiffusionException(name + ": no " + kind.displayName + " file of that name in " + String.join(" or ",
                    folders(kind).stream().map(Path::toString).toList()));
        }
        if (matches.size() > 1) {
            throw new JDiffusionException(name + ": ambiguous, " + matches.size() + " " + kind.displayName + " files match ("
                    + matches.get(0).path() + ", " + matches.get(1).path() + "); give the path below the folder");
        }
        return matches.getFirst().path();
    }

    private String relative(Entry e) {
        for (Path folder : folders(e.kind())) {
            if (e.path().startsWith(folder)) return folder.relativize(e.path()).toString().replace('\\', '/');
        }
        return e.path().toString();
    }

    private static String baseName(String name) {
        int slash = name.lastIndexOf('/');
        return slash < 0 ? name : name.substring(slash + 1);
    }

    private static String nameOf(Path folder, Path file, String ext) {
        String rel = folder.relativize(file).toString().replace('\\', '/');
        return rel.substring(0, rel.length() - ext.length());
    }

    /** The kind's extension the file ends with (case-insensitively), or null. */
    private static String extension(Kind kind, Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        for (String ext : kind.extensions) if (n.endsWith(ext) && n.length() > ext.length()) return ext;
        return null;
    }

    private static long folderBytes(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        }
    }
}
