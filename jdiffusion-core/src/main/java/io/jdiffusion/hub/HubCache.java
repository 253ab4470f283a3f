package io.jdiffusion.hub;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.AtomicFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/**
 * One repository's folder in the Hugging Face hub cache, laid out as huggingface_hub lays it out so
 * that both reuse each other's downloads:
 * <pre>
 * models--owner--name/
 *   blobs/&lt;etag&gt;                   file contents, named by their ETag (sha256 for LFS files, git sha1 otherwise)
 *   blobs/&lt;etag&gt;.incomplete        a download in progress (resumed, never read as a model file)
 *   refs/&lt;revision&gt;               the commit hash the revision pointed to when last resolved
 *   snapshots/&lt;commit&gt;/&lt;path&gt;      relative symlinks into blobs/
 * </pre>
 */
final class HubCache {
    private final Path repoDir;

    HubCache(Path cacheDir, RepoId repo) {
        this.repoDir = cacheDir.resolve(repo.cacheFolderName());
    }

    Path repoDir() {
        return repoDir;
    }

    Path blob(String etag) {
        return repoDir.resolve("blobs").resolve(etag);
    }

    Path incomplete(String etag) {
        return repoDir.resolve("blobs").resolve(etag + ".incomplete");
    }

    Path snapshot(String commit) {
        return repoDir.resolve("snapshots").resolve(commit);
    }

    /** The commit a revision names: itself when it is a hash, else what refs/ recorded; empty when unknown. */
    Optional<String> commitFor(RepoId repo) {
        if (repo.revisionIsCommit()) return Optional.of(repo.revision());
        Path ref = repoDir.resolve("refs").resolve(repo.revision());
        try {
            return Files.isRegularFile(ref) ? Optional.of(Files.readString(ref).strip()).filter(s -> !s.isEmpty()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Records which commit the revision points to (refs/main holds the bare hash, no newline). */
    void writeRef(String revision, String commit) {
        Path ref = repoDir.resolve("refs").resolve(revision);
        try {
            Files.createDirectories(ref.getParent());
        } catch (IOException e) {
            throw new JDiffusionException(ref.getParent() + ": cannot create the folder (" + e.getMessage() + ")");
        }
        AtomicFiles.write(ref, ch -> ch.write(ByteBuffer.wrap(commit.getBytes(StandardCharsets.US_ASCII))));
    }

    /** The snapshot's file, if the cache has it (a symlink whose blob exists). */
    Optional<Path> cachedFile(String commit, String path) {
        Path file = snapshot(commit).resolve(path);
        return Files.isRegularFile(file) ? Optional.of(file) : Optional.empty();
    }

    /** Points snapshots/&lt;commit&gt;/&lt;path&gt; at the blob with a relative symlink (a copy where links are not allowed). */
    Path link(String commit, String path, String etag) {
        Path file = snapshot(commit).resolve(path);
        Path blob = blob(etag);
        try {
            Files.createDirectories(file.getParent());
            Files.deleteIfExists(file);
            try {
                Files.createSymbolicLink(file, file.getParent().relativize(blob));
            } catch (UnsupportedOperationException | FileSystemException e) {
                Files.copy(blob, file, StandardCopyOption.REPLACE_EXISTING);
            }
            return file;
        } catch (IOException e) {
            throw new JDiffusionException(file + ": cannot add the file to the cache (" + e.getMessage() + ")");
        }
    }
}
