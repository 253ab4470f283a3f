package io.jdiffusion.server;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.model.addon.ModelsDir;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.LoadedModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The checkpoints the server can use (every .safetensors file and diffusers folder under
 * {@code --models-dir}, plus {@code --model}) and the one that is loaded. Only the generation
 * thread loads or uses models ({@link #use}); any thread may list them and read which one is current.
 */
final class ModelCatalog {
    /** How deep {@code --models-dir} is searched: A1111 users keep checkpoints in a few subfolders. */
    private static final int MAX_DEPTH = 4;

    /**
     * One checkpoint.
     *
     * @param title     A1111's "title" without the hash: the path relative to the models folder
     *                  ("sd15/v1-5.safetensors"), or the file name for a model given on its own
     * @param modelName A1111's "model_name": the file name without extension, or the folder name
     * @param path      the file or diffusers folder
     */
    record Entry(String title, String modelName, Path path) {
    }

    private final List<Entry> entries;
    /** Short A1111 hashes, known once a model has been used (hashing reads the whole file). */
    private final Map<Path, String> hashes = new ConcurrentHashMap<>();

    private volatile Entry current;
    private LoadedModel loaded; // only touched by the generation thread
    private ModelAddons loadedAddons = ModelAddons.NONE; // what the prompt's tags put on the loaded model
    private LoadedModel refinerLoaded; // the SDXL refiner of the last job that asked for one; generation thread only
    private Entry refinerEntry;
    private final ModelsDir a1111; // --models-dir when it is an A1111 folder: where prompt tags find LoRAs; else null

    private ModelCatalog(List<Entry> entries, ModelsDir a1111) {
        this.entries = List.copyOf(entries);
        this.a1111 = a1111;
    }

    /** The A1111 folder of {@code --models-dir}, whose LoRAs and hypernetworks prompt tags name; null without one. */
    ModelsDir a1111() {
        return a1111;
    }

    /** {@code dir} as an A1111 folder (its root or its models/), or null when it is a plain folder of checkpoints. */
    private static ModelsDir a1111Folder(Path dir) {
        try {
            return ModelsDir.open(dir);
        } catch (JDiffusionException notA1111) {
            return null;
        }
    }

    /**
     * The models of {@code --models-dir} (may be null) and {@code --model} (may be null; a name or
     * title of a model in the folder, or a path). The first model, or {@code --model}, is current.
     */
    static ModelCatalog create(Path modelsDir, String model) {
        List<Entry> entries = new ArrayList<>();
        ModelsDir a1111 = modelsDir == null ? null : a1111Folder(modelsDir);
        if (a1111 != null) {
            // A1111's checkpoints live in models/Stable-diffusion, titled relative to it; its LoRAs and VAEs are not models
            for (Path folder : a1111.folders(ModelsDir.Kind.CHECKPOINT)) if (Files.isDirectory(folder)) entries.addAll(scan(folder));
        } else if (modelsDir != null) {
            entries.addAll(scan(modelsDir));
        }
        Entry initial = null;
        if (model != null) {
            initial = find(entries, model);
            if (initial == null) {
                Path path = Path.of(model);
                if (!Files.exists(path)) {
                    throw new JDiffusionException("--model: " + model + ": no such file or directory"
                            + (modelsDir != null ? " (nor a model in " + modelsDir + ")" : ""));
                }
                Path normalized = path.toAbsolutePath().normalize();
                initial = entries.stream().filter(e -> e.path.equals(normalized)).findFirst().orElse(null);
                if (initial == null) {
                    initial = new Entry(normalized.getFileName().toString(), Infotext.modelName(normalized), normalized);
                    entries.addFirst(initial);
                }
            }
        }
        if (entries.isEmpty()) {
            throw new JDiffusionException(modelsDir == null ? "--model: no model given (use --model or --models-dir)"
                    : "--models-dir: " + modelsDir + " holds no .safetensors checkpoint or diffusers folder");
        }
        ModelCatalog catalog = new ModelCatalog(entries, a1111);
        catalog.current = initial != null ? initial : entries.getFirst();
        return catalog;
    }

    private static List<Entry> scan(Path dir) {
        if (!Files.isDirectory(dir)) throw new JDiffusionException("--models-dir: " + dir + ": no such directory");
        Path root = dir.toAbsolutePath().normalize();
        List<Entry> found = new ArrayList<>();
        try (Stream<Path> paths = Files.walk(root, MAX_DEPTH)) {
            paths.filter(p -> !p.equals(root)).filter(ModelCatalog::isModel)
                    // a diffusers folder's own files (unet/diffusion_pytorch_model.safetensors) are not models
                    .filter(p -> !insideDiffusersFolder(root, p))
                    .sorted(Comparator.comparing(p -> root.relativize(p).toString().toLowerCase(Locale.ROOT)))
                    .forEach(p -> found.add(new Entry(root.relativize(p).toString().replace('\\', '/'),
                            Infotext.modelName(p), p)));
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new JDiffusionException("--models-dir: " + dir + ": cannot list (" + e.getMessage() + ")", e);
        }
        return found;
    }

    private static boolean isModel(Path p) {
        if (Files.isDirectory(p)) return Files.isRegularFile(p.resolve("model_index.json"));
        return p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors") && Files.isRegularFile(p);
    }

    private static boolean insideDiffusersFolder(Path root, Path p) {
        for (Path q = p.getParent(); q != null && q.startsWith(root) && !q.equals(root); q = q.getParent()) {
            if (Files.isRegularFile(q.resolve("model_index.json"))) return true;
        }
        return false;
    }

    List<Entry> entries() {
        return entries;
    }

    Entry current() {
        return current;
    }

    /** The short hash when it is known, else null. */
    String hash(Entry e) {
        return hashes.get(e.path);
    }

    /** A1111's title: "name.safetensors [hash]" once the hash is known. */
    String title(Entry e) {
        String hash = hash(e);
        return hash == null ? e.title : e.title + " [" + hash + "]";
    }

    /**
     * The model a client names, as A1111 accepts it: its title (with or without " [hash]"), its
     * model name, its hash, or its file name. Unknown names are a 4xx naming {@code field}.
     */
    Entry resolve(String field, String name) {
        Entry e = find(entries, name);
        if (e == null) {
            for (Entry candidate : entries) {
                if (name.strip().equalsIgnoreCase(hash(candidate))) return candidate;
            }
            throw new ApiException(ApiException.UNPROCESSABLE, field, "no model named '" + shorten(name)
                    + "' (see GET /sdapi/v1/sd-models)");
        }
        return e;
    }

    private static Entry find(List<Entry> entries, String name) {
        String n = name.strip().replaceFirst("\\s*\\[[0-9a-fA-F]{8,64}]$", "");
        for (Entry e : entries) {
            if (e.title.equals(n) || e.modelName.equals(n) || e.path.getFileName().toString().equals(n)) return e;
        }
        return null;
    }

    private static String shorten(String s) {
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
    }

    /**
     * The loaded networks of {@code e}, loading it first when another model is loaded. The old model
     * is dropped before the new one loads, so two never share memory; if the new one cannot be
     * loaded, the old one is loaded again and the error is passed on. Generation thread only.
     */
    LoadedModel use(Entry e) {
        return use(e, ModelAddons.NONE);
    }

    /**
     * {@link #use(Entry)} with the LoRAs and hypernetworks of a prompt's tags on it. The model with add-ons is kept
     * until a job asks for other ones, so a run of jobs with the same tags merges them once. If it cannot be made,
     * the plain model is loaded again and the error is passed on. Generation thread only.
     */
    LoadedModel use(Entry e, ModelAddons addons) {
        if (loaded != null && e.equals(current) && addons.equals(loadedAddons)) return loaded;
        Entry previous = current;
        loaded = null;
        loadedAddons = ModelAddons.NONE;
        try {
            loaded = load(e, addons);
            loadedAddons = addons;
            current = e;
        } catch (RuntimeException | OutOfMemoryError failure) {
            if (previous != null) {
                try {
                    loaded = load(previous, ModelAddons.NONE);
                } catch (RuntimeException ignored) {
                    // the previous model loaded before; if it no longer does, the next request reports it
                }
            }
            throw failure;
        }
        return loaded;
    }

    /**
     * The loaded networks of a refiner model (A1111's {@code refiner_checkpoint}), kept beside the main model until
     * another refiner is asked for. Generation thread only.
     */
    LoadedModel useRefiner(Entry e) {
        if (refinerLoaded != null && e.equals(refinerEntry)) return refinerLoaded;
        refinerLoaded = null;
        refinerEntry = null;
        refinerLoaded = load(e, ModelAddons.NONE);
        refinerEntry = e;
        return refinerLoaded;
    }

    private static LoadedModel load(Entry e, ModelAddons addons) {
        return new LoadedModel(addons.apply(ModelLoader.load(e.path, null)), addons.attentionInputs(), addons.taesd());
    }

    /** Remembers the hash a finished job computed for the loaded model. Generation thread only. */
    void rememberHash(Entry e, LoadedModel model) {
        String hash = model.modelHash();
        if (hash != null) hashes.put(e.path, hash);
    }
}
