package io.jdiffusion.hub;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * Where the Hugging Face Hub is and how to talk to it, read from the same environment variables as the
 * huggingface_hub library so that both share one cache: {@code HF_ENDPOINT}, {@code HF_TOKEN} (else the
 * token file {@code huggingface-cli login} writes), {@code HF_HUB_OFFLINE}, {@code HF_HUB_CACHE} /
 * {@code HF_HOME}.
 *
 * @param endpoint the Hub's base address, without a trailing slash
 * @param token    the access token for gated and private repositories, or null
 * @param offline  use only what the cache holds
 * @param cacheDir the hub cache folder (the one holding {@code models--owner--name} folders)
 */
public record HubSettings(URI endpoint, String token, boolean offline, Path cacheDir) {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    /** The settings of this process's environment. */
    public static HubSettings fromEnvironment() {
        return from(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /** The settings an environment implies; {@code home} is the user's home folder. */
    public static HubSettings from(Map<String, String> env, Path home) {
        String endpoint = nonBlank(env.get("HF_ENDPOINT"));
        if (endpoint == null) endpoint = DEFAULT_ENDPOINT;
        while (endpoint.endsWith("/")) endpoint = endpoint.substring(0, endpoint.length() - 1);

        String xdgCache = nonBlank(env.get("XDG_CACHE_HOME"));
        Path hfHome = nonBlank(env.get("HF_HOME")) != null ? Path.of(env.get("HF_HOME").strip())
                : (xdgCache != null ? Path.of(xdgCache) : home.resolve(".cache")).resolve("huggingface");
        Path cache = nonBlank(env.get("HF_HUB_CACHE")) != null ? Path.of(env.get("HF_HUB_CACHE").strip())
                : nonBlank(env.get("HUGGINGFACE_HUB_CACHE")) != null ? Path.of(env.get("HUGGINGFACE_HUB_CACHE").strip())
                : hfHome.resolve("hub");

        String token = nonBlank(env.get("HF_TOKEN"));
        if (token == null) token = nonBlank(env.get("HUGGING_FACE_HUB_TOKEN"));
        if (token == null) {
            Path tokenFile = nonBlank(env.get("HF_TOKEN_PATH")) != null ? Path.of(env.get("HF_TOKEN_PATH").strip()) : hfHome.resolve("token");
            token = readToken(tokenFile);
        }
        return new HubSettings(URI.create(endpoint), token, truthy(env.get("HF_HUB_OFFLINE")), cache);
    }

    public HubSettings withOffline(boolean offline) {
        return new HubSettings(endpoint, token, offline, cacheDir);
    }

    /** huggingface_hub's reading of a boolean variable. */
    private static boolean truthy(String value) {
        if (value == null) return false;
        return switch (value.strip().toUpperCase(Locale.ROOT)) {
            case "1", "ON", "YES", "TRUE" -> true;
            default -> false;
        };
    }

    private static String readToken(Path file) {
        try {
            return Files.isRegularFile(file) ? nonBlank(Files.readString(file)) : null;
        } catch (IOException e) {
            return null; // an unreadable token file is the same as none: public repos still work
        }
    }

    private static String nonBlank(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }
}
