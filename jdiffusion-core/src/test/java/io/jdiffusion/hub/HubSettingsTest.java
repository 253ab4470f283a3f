package io.jdiffusion.hub;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class HubSettingsTest {
    @TempDir
    Path home;

    @Test
    void defaultsAreHuggingfaceHubs() {
        HubSettings s = HubSettings.from(Map.of(), home);
        assertThat(s.endpoint()).hasToString("https://huggingface.co");
        assertThat(s.cacheDir()).isEqualTo(home.resolve(".cache/huggingface/hub"));
        assertThat(s.token()).isNull();
        assertThat(s.offline()).isFalse();
    }

    @Test
    void hubCacheWinsOverHfHome() {
        assertThat(HubSettings.from(Map.of("HF_HOME", "/data/hf"), home).cacheDir()).isEqualTo(Path.of("/data/hf/hub"));
        assertThat(HubSettings.from(Map.of("HF_HOME", "/data/hf", "HF_HUB_CACHE", "/fast/cache"), home).cacheDir())
                .isEqualTo(Path.of("/fast/cache"));
    }

    @Test
    void endpointTokenAndOfflineFromTheEnvironment() {
        HubSettings s = HubSettings.from(Map.of("HF_ENDPOINT", "https://hf-mirror.example/", "HF_TOKEN", " hf_abc\n",
                "HF_HUB_OFFLINE", "1"), home);
        assertThat(s.endpoint()).hasToString("https://hf-mirror.example");
        assertThat(s.token()).isEqualTo("hf_abc");
        assertThat(s.offline()).isTrue();
        assertThat(HubSettings.from(Map.of("HF_HUB_OFFLINE", "true"), home).offline()).isTrue();
        assertThat(HubSettings.from(Map.of("HF_HUB_OFFLINE", "0"), home).offline()).isFalse();
    }

    @Test
    void theTokenFileOfHuggingfaceCliLoginIsRead() throws IOException {
        Files.createDirectories(home.resolve(".cache/huggingface"));
        Files.writeString(home.resolve(".cache/huggingface/token"), "hf_from_login\n");
        assertThat(HubSettings.from(Map.of(), home).token()).isEqualTo("hf_from_login");
        assertThat(HubSettings.from(Map.of("HF_TOKEN", "hf_env"), home).token()).isEqualTo("hf_env");
    }

    @Test
    void repositoryIdsAreToldApartFromPaths() {
        assertThat(RepoId.looksLike("stabilityai/sd-turbo")).isTrue();
        assertThat(RepoId.looksLike("stabilityai/sd-turbo@fp16")).isTrue();
        assertThat(RepoId.looksLike("models/v1-5-pruned.safetensors")).isFalse();
        assertThat(RepoId.looksLike("model.safetensors")).isFalse();
        assertThat(RepoId.looksLike("/abs/path")).isFalse();
        assertThat(RepoId.looksLike("a/b/c")).isFalse();
        assertThat(RepoId.looksLike("./a")).isFalse();

        RepoId id = RepoId.parse("owner/name@v1.0");
        assertThat(id).isEqualTo(new RepoId("owner", "name", "v1.0"));
        assertThat(id.cacheFolderName()).isEqualTo("models--owner--name");
        assertThat(RepoId.parse("owner/name").revision()).isEqualTo("main");
    }
}
