package io.jdiffusion.hub;

import io.jdiffusion.JDiffusionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class HubDownloaderTest {
    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    private static final RepoId TURBO = RepoId.parse("acme/tiny-turbo");

    @TempDir
    Path cache;

    private FakeHub hub;
    private Map<String, byte[]> files;
    private final List<String> notices = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        files = FakeHub.diffusersFiles();
        hub.add(new FakeHub.Repo("acme/tiny-turbo", COMMIT, files, null));
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    private HubSettings settings(String token, boolean offline) {
        return new HubSettings(hub.endpoint(), token, offline, cache);
    }

    private Path download(RepoId repo, HubSettings settings) {
        return new HubDownloader(settings, DownloadProgress.NONE, notices::add).snapshot(repo);
    }

    private Path repoDir() {
        return cache.resolve("models--acme--tiny-turbo");
    }

    @Test
    void downloadsWhatThePipelineNeedsIntoTheHuggingfaceCacheLayout() throws IOException {
        Path snapshot = download(TURBO, settings(null, false));

        assertThat(snapshot).isEqualTo(repoDir().resolve("snapshots").resolve(COMMIT));
        assertThat(Files.readString(repoDir().resolve("refs/main"))).isEqualTo(COMMIT);
        List<String> expected = List.of("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors",
                "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json",
                "text_encoder/model.fp16.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt",
                "tokenizer/tokenizer_config.json", "tokenizer/special_tokens_map.json", "scheduler/scheduler_config.json");
        assertThat(snapshotFiles(snapshot)).containsExactlyInAnyOrderElementsOf(expected);

        for (String file : expected) {
            Path link = snapshot.resolve(file);
            byte[] content = files.get(file);
            String etag = FakeHub.isLfs(file) ? FakeHub.sha256(content) : FakeHub.gitSha1(content);
            // a relative symlink into blobs/, as huggingface_hub makes them
            assertThat(Files.isSymbolicLink(link)).as(file).isTrue();
            Path target = Files.readSymbolicLink(link);
            assertThat(target.isAbsolute()).isFalse();
            assertThat(link.getParent().resolve(target).normalize()).isEqualTo(repoDir().resolve("blobs").resolve(etag));
            assertThat(Files.readAllBytes(link)).as(file).isEqualTo(content);
        }
        try (Stream<Path> blobs = Files.list(repoDir().resolve("blobs"))) {
            assertThat(blobs.map(p -> p.getFileName().toString())).hasSize(expected.size()).noneMatch(n -> n.endsWith(".incomplete"));
        }
        // the other weights were never fetched
        assertThat(hub.requests("GET", "/cdn/" + FakeHub.sha256(files.get("unet/diffusion_pytorch_model.safetensors")))).isEmpty();
        assertThat(hub.requests("GET", "/cdn/" + FakeHub.sha256(files.get("sd_turbo.safetensors")))).isEmpty();
        assertThat(hub.requests("HEAD", "safety_checker")).isEmpty();
    }

    @Test
    void aSecondRunTakesEverythingFromTheCache() {
        Path first = download(TURBO, settings(null, false));
        hub.seen.clear();

        Path second = download(TURBO, settings(null, false));

        assertThat(second).isEqualTo(first);
        assertThat(hub.seen).extracting(FakeHub.Seen::path).containsExactly("/api/models/acme/tiny-turbo/revision/main");
    }

    @Test
    void aCutOffDownloadLeavesOnlyTheIncompleteFileAndTheNextRunResumesIt() throws IOException {
        byte[] unet = files.get("unet/diffusion_pytorch_model.fp16.safetensors");
        String sha = FakeHub.sha256(unet);
        hub.cutOffOnce(unet);

        assertThatThrownBy(() -> download(TURBO, settings(null, false)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("unet/diffusion_pytorch_model.fp16.safetensors")
                .hasMessageContaining("run again to resume")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        Path partial = repoDir().resolve("blobs").resolve(sha + ".incomplete");
        assertThat(partial).exists();
        long kept = Files.size(partial);
        assertThat(kept).isGreaterThan(0).isLessThan(unet.length);
        assertThat(repoDir().resolve("blobs").resolve(sha)).doesNotExist();
        assertThat(repoDir().resolve("snapshots").resolve(COMMIT).resolve("unet/diffusion_pytorch_model.fp16.safetensors")).doesNotExist();
        assertThat(repoDir().resolve("refs/main")).doesNotExist();

        Path snapshot = download(TURBO, settings(null, false));

        assertThat(hub.requests("GET", "/cdn/" + sha)).extracting(FakeHub.Seen::range).containsExactly(null, "bytes=" + kept + "-");
        assertThat(Files.readAllBytes(snapshot.resolve("unet/diffusion_pytorch_model.fp16.safetensors"))).isEqualTo(unet);
        assertThat(partial).doesNotExist();
    }

    @Test
    void offlineTheCachedSnapshotIsUsedWithoutTheNetwork() {
        Path online = download(TURBO, settings(null, false));
        hub.close();

        assertThat(download(TURBO, settings(null, true))).isEqualTo(online);
        assertThat(notices).isEmpty();
    }

    @Test
    void whenTheHubIsUnreachableTheCacheIsUsedAndTheUserTold() {
        Path online = download(TURBO, settings(null, false));
        hub.close();

        assertThat(download(TURBO, settings(null, false))).isEqualTo(online);
        assertThat(notices).singleElement().asString().contains("unreachable").contains("using the cached acme/tiny-turbo");
    }

    @Test
    void offlineOrUnreachableWithoutACachedCopyIsOneClearLine() {
        assertThatThrownBy(() -> download(TURBO, settings(null, true)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("acme/tiny-turbo: not in the cache")
                .hasMessageContaining("HF_HUB_OFFLINE is set");
        hub.close();
        assertThatThrownBy(() -> download(TURBO, settings(null, false)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("not in the cache")
                .hasMessageContaining("unreachable")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void anIncompleteCachedCopyIsNotUsedOffline() throws IOException {
        Path snapshot = download(TURBO, settings(null, false));
        Files.delete(snapshot.resolve("unet/diffusion_pytorch_model.fp16.safetensors"));

        assertThatThrownBy(() -> download(TURBO, settings(null, true)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("incomplete")
                .hasMessageContaining("unet weights");
    }

    @Test
    void unknownRepositoryOrRevisionIsOneLine() {
        assertThatThrownBy(() -> download(RepoId.parse("acme/nothing-here"), settings(null, false)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("acme/nothing-here: not found on " + hub.endpoint());
        assertThatThrownBy(() -> download(RepoId.parse("acme/tiny-turbo@v9"), settings(null, false)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessage("acme/tiny-turbo: no revision 'v9' on " + hub.endpoint());
        assertThat(cache.resolve("models--acme--nothing-here")).doesNotExist();
    }

    @Test
    void aGatedRepositoryNeedsTheTokenWhichNeverGoesToTheCdn() {
        hub.add(new FakeHub.Repo("acme/gated", COMMIT, files, "hf_secret"));
        RepoId gated = RepoId.parse("acme/gated");

        assertThatThrownBy(() -> download(gated, settings(null, false)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("HTTP 401")
                .hasMessageContaining("accept its licence at " + hub.endpoint() + "/acme/gated")
                .hasMessageContaining("set HF_TOKEN");
        assertThatThrownBy(() -> download(gated, settings("hf_wrong", false)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("HTTP 403")
                .hasMessageContaining("the one set was refused");

        Path snapshot = download(gated, settings("hf_secret", false));

        assertThat(snapshot.resolve("unet/diffusion_pytorch_model.fp16.safetensors")).exists();
        assertThat(hub.requests("GET", "/cdn/")).isNotEmpty().allSatisfy(s -> assertThat(s.authorization()).isNull());
        assertThat(hub.requests("HEAD", "/acme/gated/resolve/")).isNotEmpty()
                .allSatisfy(s -> assertThat(s.authorization()).isEqualTo("Bearer hf_secret"));
    }

    @Test
    void bytesNotMatchingTheSha256AreDiscardedNeverRenamed() {
        byte[] vae = files.get("vae/diffusion_pytorch_model.safetensors");
        String sha = FakeHub.sha256(vae);
        hub.corrupt(vae);

        assertThatThrownBy(() -> download(TURBO, settings(null, false)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("vae/diffusion_pytorch_model.safetensors")
                .hasMessageContaining("do not match")
                .hasMessageContaining(sha);
        assertThat(repoDir().resolve("blobs").resolve(sha)).doesNotExist();
        assertThat(repoDir().resolve("blobs").resolve(sha + ".incomplete")).doesNotExist();
        assertThat(repoDir().resolve("snapshots").resolve(COMMIT).resolve("vae/diffusion_pytorch_model.safetensors")).doesNotExist();
    }

    @Test
    void aFullDiskIsOneClearLineAndNoBlobAppears() throws IOException {
        Path full = Path.of("/dev/full"); // every write to it fails with ENOSPC, as on a full disk
        assumeTrue(Files.exists(full), "needs Linux's /dev/full");
        byte[] unet = files.get("unet/diffusion_pytorch_model.fp16.safetensors");
        String sha = FakeHub.sha256(unet);
        Files.createDirectories(repoDir().resolve("blobs"));
        Files.createSymbolicLink(repoDir().resolve("blobs").resolve(sha + ".incomplete"), full);

        assertThatThrownBy(() -> download(TURBO, settings(null, false)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining(sha + ".incomplete: cannot write the download")
                .hasMessageContaining("is the disk full?")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        assertThat(repoDir().resolve("blobs").resolve(sha)).doesNotExist();
        assertThat(repoDir().resolve("snapshots").resolve(COMMIT).resolve("unet/diffusion_pytorch_model.fp16.safetensors")).doesNotExist();
    }

    @Test
    void aRepositoryWithoutModelIndexIsRefused() {
        hub.add(new FakeHub.Repo("acme/single-file", COMMIT, Map.of("model.safetensors", FakeHub.bytes(10, 1)), null));

        assertThatThrownBy(() -> download(RepoId.parse("acme/single-file"), settings(null, false)))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("no model_index.json");
    }

    @Test
    void aCommitHashRevisionWritesNoRef() {
        Path snapshot = download(RepoId.parse("acme/tiny-turbo@" + COMMIT), settings(null, false));

        assertThat(snapshot).isEqualTo(repoDir().resolve("snapshots").resolve(COMMIT));
        assertThat(repoDir().resolve("refs")).doesNotExist();
        assertThat(download(RepoId.parse("acme/tiny-turbo@" + COMMIT), settings(null, true))).isEqualTo(snapshot);
    }

    @Test
    void aRepositoryHoldingOneComponentAtItsTopGivesItsConfigAndBestWeights() throws IOException {
        Map<String, byte[]> taesd = Map.of("config.json", "{\"_class_name\": \"AutoencoderTiny\"}".getBytes(),
                "diffusion_pytorch_model.safetensors", new byte[]{1, 2, 3}, "diffusion_pytorch_model.bin", new byte[]{4, 5},
                "README.md", "# taesd".getBytes(), "images/screenshot.safetensors", new byte[]{6});
        hub.add(new FakeHub.Repo("acme/taesd", COMMIT, taesd, null));
        RepoId repo = RepoId.parse("acme/taesd");

        Path snapshot = new HubDownloader(settings(null, false), DownloadProgress.NONE, notices::add).componentSnapshot(repo);

        assertThat(snapshotFiles(snapshot)).containsExactlyInAnyOrder("config.json", "diffusion_pytorch_model.safetensors");
        assertThat(Files.readAllBytes(snapshot.resolve("diffusion_pytorch_model.safetensors"))).isEqualTo(new byte[]{1, 2, 3});
        // and offline from the cache afterwards
        assertThat(new HubDownloader(settings(null, true), DownloadProgress.NONE, notices::add).componentSnapshot(repo)).isEqualTo(snapshot);
        // a whole-model repository is not a component
        assertThatThrownBy(() -> new HubDownloader(settings(null, false), DownloadProgress.NONE, notices::add).componentSnapshot(TURBO))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("not a diffusers component");
    }

    private static List<String> snapshotFiles(Path snapshot) throws IOException {
        try (Stream<Path> walk = Files.walk(snapshot)) {
            return walk.filter(p -> !Files.isDirectory(p)).map(p -> snapshot.relativize(p).toString()).toList();
        }
    }
}
