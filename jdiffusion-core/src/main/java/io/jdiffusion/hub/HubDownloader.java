package io.jdiffusion.hub;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.Json;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Brings the files a diffusers model needs from the Hub into the hub cache and returns the snapshot
 * folder, which {@link io.jdiffusion.model.ModelLoader} opens like any diffusers folder.
 *
 * <p>Each file lands atomically: its bytes go to {@code blobs/<etag>.incomplete} (resumed with a Range
 * request if a previous run was cut off), are checked against the ETag (sha256 for LFS files, the git
 * blob sha1 for the small ones) and the announced size, and only then renamed to {@code blobs/<etag>}
 * and linked from the snapshot. Offline, or when the Hub cannot be reached, the cached snapshot of the
 * revision is used if it is complete.
 */
public final class HubDownloader {
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern GIT_SHA1 = Pattern.compile("[0-9a-f]{40}");
    private static final int BUFFER = 1 << 20;

    private final HubSettings settings;
    private final HubClient client;
    private final DownloadProgress progress;
    private final Consumer<String> notices;

    /**
     * @param progress told about each file downloaded
     * @param notices  one-line notes for the user (e.g. that the cache is used because the Hub is unreachable)
     */
    public HubDownloader(HubSettings settings, DownloadProgress progress, Consumer<String> notices) {
        this.settings = settings;
        this.client = new HubClient(settings);
        this.progress = progress;
        this.notices = notices;
    }

    /** The local snapshot folder of the repository at its revision, downloading what is missing. */
    public Path snapshot(RepoId repo) {
        return snapshot(repo, false);
    }

    /**
     * The local snapshot folder of a repository that holds one diffusers component at its top, config.json and
     * its weights (a VAE, or a TAESD such as {@code madebyollin/taesd}), downloading what is missing.
     */
    public Path componentSnapshot(RepoId repo) {
        return snapshot(repo, true);
    }

    private Path snapshot(RepoId repo, boolean topComponent) {
        HubCache cache = new HubCache(settings.cacheDir(), repo);
        if (settings.offline()) return fromCache(repo, cache, "HF_HUB_OFFLINE is set", topComponent);
        HubClient.RepoInfo info;
        try {
            info = client.repoInfo(repo);
        } catch (HubClient.UnreachableException e) {
            Path cached = fromCache(repo, cache, e.getMessage(), topComponent);
            notices.accept(e.getMessage() + "; using the cached " + repo + " in " + cached);
            return cached;
        } catch (IOException e) {
            throw new JDiffusionException(repo + ": cannot read the Hub's answer (" + HubClient.describe(e) + ")");
        }
        String commit = info.commit();
        List<String> files;
        if (topComponent) {
            files = ModelFiles.selectTopComponent(info.files());
            if (!files.contains(COMPONENT_CONFIG) || files.stream().noneMatch(HubDownloader::isWeights)) {
                throw new JDiffusionException(repo + ": no " + COMPONENT_CONFIG + " and weights at the top of the repository:"
                        + " not a diffusers component such as a VAE");
            }
        } else {
            if (!info.files().contains(ModelFiles.MODEL_INDEX)) {
                throw new JDiffusionException(repo + ": no " + ModelFiles.MODEL_INDEX + " in the repository: not a diffusers model"
                        + " (download its checkpoint file and give --model the file)");
            }
            fetch(repo, cache, commit, ModelFiles.MODEL_INDEX);
            JsonNode modelIndex = Json.read(cache.snapshot(commit).resolve(ModelFiles.MODEL_INDEX));
            files = ModelFiles.select(info.files(), modelIndex);
        }
        for (String file : files) fetch(repo, cache, commit, file);
        if (!repo.revisionIsCommit()) cache.writeRef(repo.revision(), commit);
        return cache.snapshot(commit);
    }

    private static final String COMPONENT_CONFIG = "config.json";

    /** The cached snapshot, if it holds a loadable model; otherwise a one-line error saying why the Hub was not asked. */
    private Path fromCache(RepoId repo, HubCache cache, String why, boolean topComponent) {
        String commit = cache.commitFor(repo).orElseThrow(() -> new JDiffusionException(
                repo + ": not in the cache " + settings.cacheDir() + " and " + why + "; download it once with network access"));
        Path snapshot = cache.snapshot(commit);
        Path index = snapshot.resolve(ModelFiles.MODEL_INDEX);
        List<String> missing = new ArrayList<>();
        if (topComponent) {
            List<String> present = filesIn(snapshot);
            if (!present.contains(COMPONENT_CONFIG)) missing.add(COMPONENT_CONFIG);
            if (present.stream().noneMatch(f -> f.indexOf('/') < 0 && isWeights(f))) missing.add("weights");
        } else if (!Files.isRegularFile(index)) {
            missing.add(ModelFiles.MODEL_INDEX);
        } else {
            List<String> present = filesIn(snapshot);
            List<String> needed = ModelFiles.select(present, Json.read(index));
            for (String component : new String[]{"unet", "vae", "text_encoder"}) {
                boolean hasConfig = needed.contains(component + "/config.json");
                boolean hasWeights = needed.stream().anyMatch(f -> f.startsWith(component + "/") && isWeights(f));
                if (!hasConfig || !hasWeights) missing.add(component + (hasConfig ? " weights" : "/config.json"));
            }
        }
        if (!missing.isEmpty()) {
            throw new JDiffusionException(repo + ": the cached copy in " + snapshot + " is incomplete (no " + String.join(", ", missing)
                    + ") and " + why + "; download it once with network access");
        }
        return snapshot;
    }

    private static boolean isWeights(String file) {
        return file.endsWith(".safetensors") || file.endsWith(".bin");
    }

    /** Paths of the snapshot's files whose blobs exist, relative, with '/'. */
    private static List<String> filesIn(Path snapshot) {
        try (Stream<Path> walk = Files.walk(snapshot)) {
            return walk.filter(Files::isRegularFile).map(p -> snapshot.relativize(p).toString().replace('\\', '/')).toList();
        } catch (IOException e) {
            throw new JDiffusionException(snapshot + ": cannot list the cached files (" + e.getMessage() + ")");
        }
    }

    /** Makes snapshots/&lt;commit&gt;/&lt;path&gt; exist, downloading its blob unless the cache has it. */
    private void fetch(RepoId repo, HubCache cache, String commit, String path) {
        if (cache.cachedFile(commit, path).isPresent()) return; // a commit's files never change
        try {
            HubClient.FileMeta meta = client.head(repo, commit, path);
            if (!Files.isRegularFile(cache.blob(meta.etag()))) {
                downloadBlob(repo, cache, path, meta);
            }
            cache.link(commit, path, meta.etag());
        } catch (HubClient.UnreachableException e) {
            throw new JDiffusionException(repo + ": " + path + ": " + e.getMessage() + " in the middle of the download; run again to resume");
        } catch (IOException e) {
            throw new JDiffusionException(repo + ": " + path + ": the download broke off (" + HubClient.describe(e) + "); run again to resume");
        }
    }

    /**
     * Downloads into blobs/&lt;etag&gt;.incomplete, from where a previous run stopped, checks it, then renames it.
     * A write failure (disk full) keeps the partial file for the next run; a checksum failure deletes it.
     */
    private void downloadBlob(RepoId repo, HubCache cache, String path, HubClient.FileMeta meta) throws IOException {
        Path blob = cache.blob(meta.etag());
        Path partial = cache.incomplete(meta.etag());
        Files.createDirectories(blob.getParent());
        long size = meta.size();
        long have = Files.exists(partial) ? Files.size(partial) : 0;
        if (size >= 0 && have > size) {
            Files.delete(partial); // longer than the file: not ours to resume
            have = 0;
        }
        Checksum checksum = Checksum.forEtag(meta.etag(), size);
        if (have > 0) checksum.updateFrom(partial, have);

        progress.start(path, size, have);
        try {
            if (size < 0 || have < size) have = receive(repo, path, meta.downloadUrl(), partial, have, checksum);
        } finally {
            progress.finish();
        }

        if (size >= 0 && have != size) {
            throw new IOException("got " + have + " of " + size + " bytes");
        }
        if (!checksum.matches()) {
            Files.deleteIfExists(partial);
            throw new JDiffusionException(repo + ": " + path + ": the downloaded bytes do not match the Hub's checksum "
                    + meta.etag() + "; the download was discarded, run again");
        }
        try {
            Files.move(partial, blob, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(partial, blob, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Appends the file's bytes from {@code have} on; returns how many bytes the partial file then holds. */
    private long receive(RepoId repo, String path, URI url, Path partial, long have, Checksum checksum) throws IOException {
        HttpResponse<InputStream> response = client.get(url, have, repo, path);
        if (response.statusCode() == 200 && have > 0) {
            // the server ignored the Range: start over
            have = 0;
            checksum.reset();
        } else if (response.statusCode() == 206) {
            long start = response.headers().firstValue("Content-Range").map(HubDownloader::rangeStart).orElse(-1L);
            if (start != have) {
                response.body().close();
                throw new IOException("the server resumed at byte " + start + " instead of " + have);
            }
        } else if (response.statusCode() != 200) {
            response.body().close();
            throw new IOException("unexpected HTTP " + response.statusCode());
        }
        try (InputStream in = response.body();
             FileChannel out = openPartial(partial, have)) {
            byte[] buffer = new byte[BUFFER];
            int n;
            while ((n = in.read(buffer)) > 0) {
                ByteBuffer bytes = ByteBuffer.wrap(buffer, 0, n);
                try {
                    while (bytes.hasRemaining()) out.write(bytes);
                } catch (IOException e) {
                    throw new JDiffusionException(partial + ": cannot write the download (" + HubClient.describe(e)
                            + "; is the disk full?); the " + have + " bytes so far are kept and the next run resumes from there", e);
                }
                checksum.update(buffer, n);
                have += n;
                progress.advance(n);
            }
            out.force(false);
        }
        return have;
    }

    private static FileChannel openPartial(Path partial, long keep) throws IOException {
        FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            if (keep == 0) ch.truncate(0);
            ch.position(keep);
            return ch;
        } catch (IOException e) {
            ch.close();
            throw e;
        }
    }

    /** "bytes 100-199/200" -> 100. */
    private static long rangeStart(String contentRange) {
        String s = contentRange.strip();
        if (s.startsWith("bytes ")) s = s.substring(6);
        int dash = s.indexOf('-');
        try {
            return dash > 0 ? Long.parseLong(s.substring(0, dash).strip()) : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The check an ETag allows: sha256 of the content (LFS), or git's blob sha1 (small files in git). */
    private static final class Checksum {
        private final String expected;
        private final String algorithm;
        private final long size;
        private MessageDigest digest;

        private Checksum(String expected, String algorithm, long size) {
            this.expected = expected;
            this.algorithm = algorithm;
            this.size = size;
            reset();
        }

        static Checksum forEtag(String etag, long size) {
            String e = etag.toLowerCase(java.util.Locale.ROOT);
            if (SHA256.matcher(e).matches()) return new Checksum(e, "SHA-256", size);
            if (GIT_SHA1.matcher(e).matches() && size >= 0) return new Checksum(e, "SHA-1", size);
            return new Checksum(null, null, size); // an ETag we cannot check: the size is all we verify
        }

        void reset() {
            if (algorithm == null) return;
            try {
                digest = MessageDigest.getInstance(algorithm);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
            // git hashes "blob <size>\0" followed by the content
            if (algorithm.equals("SHA-1")) digest.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
        }

        void update(byte[] bytes, int length) {
            if (digest != null) digest.update(bytes, 0, length);
        }

        void updateFrom(Path file, long length) throws IOException {
            if (digest == null) return;
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buffer = new byte[BUFFER];
                long left = length;
                int n;
                while (left > 0 && (n = in.read(buffer, 0, (int) Math.min(buffer.length, left))) > 0) {
                    digest.update(buffer, 0, n);
                    left -= n;
                }
            }
        }

        boolean matches() {
            return digest == null || HexFormat.of().formatHex(digest.digest()).equals(expected);
        }
    }
}
