package io.jdiffusion.hub;

import io.jdiffusion.JDiffusionException;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A model repository on the Hub, {@code owner/name}, at a revision (a branch, a tag or a commit hash;
 * {@code main} unless {@code owner/name@revision} says otherwise).
 */
public record RepoId(String owner, String name, String revision) {
    // the Hub's rules for names: letters, digits, '-', '_', '.'; no leading '-' or '.', no "--" or ".."
    private static final Pattern ID = Pattern.compile("([A-Za-z0-9][A-Za-z0-9_.-]{0,95})/([A-Za-z0-9][A-Za-z0-9_.-]{0,95})(?:@([^\\s@]+))?");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    /** Endings that make "a/b.ext" a file the user means, not a repository. */
    private static final String[] FILE_ENDINGS = {".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".json", ".png"};

    public static final String DEFAULT_REVISION = "main";

    /** Whether the text reads as {@code owner/name[@revision]} rather than as a file path. */
    public static boolean looksLike(String text) {
        if (text == null) return false;
        Matcher m = ID.matcher(text.strip());
        if (!m.matches()) return false;
        String name = m.group(2);
        if (m.group(1).contains("--") || m.group(1).contains("..") || name.contains("--") || name.contains("..")) return false;
        String lower = name.toLowerCase(Locale.ROOT);
        for (String ending : FILE_ENDINGS) if (lower.endsWith(ending)) return false;
        return true;
    }

    public static RepoId parse(String text) {
        if (!looksLike(text)) throw new JDiffusionException("--model: '" + text + "' is not a Hub repository id like owner/name or owner/name@revision");
        Matcher m = ID.matcher(text.strip());
        if (!m.matches()) throw new IllegalStateException(text);
        return new RepoId(m.group(1), m.group(2), m.group(3) != null ? m.group(3) : DEFAULT_REVISION);
    }

    /** {@code owner/name}, as in URLs. */
    public String id() {
        return owner + "/" + name;
    }

    /** The repository's folder in the hub cache, as huggingface_hub names it. */
    public String cacheFolderName() {
        return "models--" + owner + "--" + name;
    }

    /** A full commit hash needs no ref: it names its snapshot directly. */
    public boolean revisionIsCommit() {
        return COMMIT.matcher(revision).matches();
    }

    @Override
    public String toString() {
        return revision.equals(DEFAULT_REVISION) ? id() : id() + "@" + revision;
    }
}
