package io.jdiffusion.hub;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * What {@code --model} names, as a local path: an existing file or folder as it is, a Hub repository id
 * ({@code owner/name[@revision]}) as its cached snapshot folder (downloaded first if needed), and no
 * model at all as {@link #DEFAULT_MODEL}.
 */
public final class ModelSource {
    /**
     * The model used when none is named: SD-Turbo, SD 2.1 distilled to draw in one step without guidance,
     * so it suits a CPU; about 2.6 GB in its fp16 variant.
     */
    public static final String DEFAULT_MODEL = "stabilityai/sd-turbo";

    private ModelSource() {
    }

    /** As {@link #resolve(String, HubSettings, PrintWriter)} with the environment's Hub settings. */
    public static Path resolve(String model, PrintWriter err) {
        return resolve(model, HubSettings.fromEnvironment(), err);
    }

    /**
     * The local path of the model: {@code model} itself when it exists or does not read as a repository id
     * (the caller reports a missing path), else the Hub snapshot; null means {@link #DEFAULT_MODEL}.
     * Download progress and notes go to {@code err}.
     */
    public static Path resolve(String model, HubSettings settings, PrintWriter err) {
        String name = model == null ? DEFAULT_MODEL : model.strip();
        Path local = localPath(name);
        if (local != null && Files.exists(local)) return local;
        if (!isHubId(name)) return local != null ? local : Path.of(name); // the caller's "no such file" names it
        return downloader(settings, err).snapshot(RepoId.parse(name));
    }

    private static HubDownloader downloader(HubSettings settings, PrintWriter err) {
        return new HubDownloader(settings, DownloadProgress.bar(err), note -> {
            err.println("note: " + note);
            err.flush();
        });
    }

    /**
     * The local folder of a Hub repository that holds one diffusers component at its top (config.json and
     * weights: a VAE or a TAESD), downloaded first if needed; progress and notes go to {@code err}.
     */
    public static Path resolveComponent(String repo, HubSettings settings, PrintWriter err) {
        return downloader(settings, err).componentSnapshot(RepoId.parse(repo.strip()));
    }

    /** Whether {@code --model} text names a Hub repository rather than a file (when no such file exists). */
    public static boolean isHubId(String model) {
        return RepoId.looksLike(model);
    }

    private static Path localPath(String name) {
        try {
            return Path.of(name);
        } catch (InvalidPathException e) {
            return null;
        }
    }
}
