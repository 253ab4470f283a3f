package io.jdiffusion.hub;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.Json;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The Hub's HTTP protocol, as far as downloading a snapshot needs it: the revision's file list from
 * {@code /api/models/{repo}/revision/{rev}}, a file's metadata from a HEAD on
 * {@code /{repo}/resolve/{rev}/{path}}, and its bytes (possibly from a CDN the Hub redirects to).
 * Redirects are followed here, not by the HTTP client, so the token never leaves the Hub's host.
 */
final class HubClient {
    private static final int MAX_REDIRECTS = 10;
    private static final Duration API_TIMEOUT = Duration.ofSeconds(30);

    /** The network could not be reached at all (as opposed to the Hub answering with an error). */
    static final class UnreachableException extends IOException {
        UnreachableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** What {@code /api/models/{repo}/revision/{rev}} says: the commit and the paths of its files. */
    record RepoInfo(String commit, List<String> files) {
    }

    /**
     * A file's metadata from the resolve endpoint's HEAD.
     *
     * @param commit      X-Repo-Commit
     * @param etag        X-Linked-Etag (LFS files: their sha256) or ETag (git files: their git blob sha1), unquoted
     * @param size        X-Linked-Size or Content-Length, -1 when not given
     * @param downloadUrl where the bytes are: the CDN the Hub redirects LFS files to, or the resolve URL itself
     */
    record FileMeta(String commit, String etag, long size, URI downloadUrl) {
    }

    private final HubSettings settings;
    private final HttpClient http;

    HubClient(HubSettings settings) {
        this.settings = settings;
        this.http = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    RepoInfo repoInfo(RepoId repo) throws IOException {
        URI uri = URI.create(settings.endpoint() + "/api/models/" + repo.id() + "/revision/" + encode(repo.revision()));
        HttpResponse<InputStream> response = send(request(uri).GET().timeout(API_TIMEOUT), repo, "");
        JsonNode info;
        try (InputStream body = response.body()) {
            info = Json.MAPPER.readTree(body);
        }
        if (info == null || !info.hasNonNull("sha")) {
            throw new JDiffusionException(repo + ": the Hub's answer has no commit hash (" + uri + ")");
        }
        List<String> files = new ArrayList<>();
        for (JsonNode sibling : info.path("siblings")) {
            if (sibling.hasNonNull("rfilename")) files.add(sibling.get("rfilename").asText());
        }
        return new RepoInfo(info.get("sha").asText(), files);
    }

    FileMeta head(RepoId repo, String revision, String path) throws IOException {
        URI uri = resolveUrl(repo, revision, path);
        HttpRequest.Builder head = request(uri).method("HEAD", HttpRequest.BodyPublishers.noBody())
                .header("Accept-Encoding", "identity").timeout(API_TIMEOUT);
        HttpResponse<InputStream> response = sendFollowing(head, uri, repo, path, true);
        response.body().close();
        HttpHeaders h = response.headers();
        String etag = h.firstValue("X-Linked-Etag").or(() -> h.firstValue("ETag")).map(HubClient::normalizeEtag).orElse(null);
        String commit = h.firstValue("X-Repo-Commit").orElse(null);
        if (etag == null || commit == null) {
            throw new JDiffusionException(repo + ": " + path + ": the Hub sent no " + (etag == null ? "ETag" : "X-Repo-Commit")
                    + " (is HF_ENDPOINT=" + settings.endpoint() + " a Hugging Face Hub?)");
        }
        long size = h.firstValue("X-Linked-Size").or(() -> h.firstValue("Content-Length")).map(Long::parseLong).orElse(-1L);
        URI download = isRedirect(response.statusCode())
                ? response.uri().resolve(h.firstValue("Location").orElseThrow())
                : response.uri();
        return new FileMeta(commit, etag, size, download);
    }

    /** GETs the file's bytes from {@code offset} on (a Range request when offset > 0), following redirects. */
    HttpResponse<InputStream> get(URI uri, long offset, RepoId repo, String path) throws IOException {
        HttpRequest.Builder get = request(uri).GET().header("Accept-Encoding", "identity");
        if (offset > 0) get.header("Range", "bytes=" + offset + "-");
        return sendFollowing(get, uri, repo, path, false);
    }

    private HttpResponse<InputStream> sendFollowing(HttpRequest.Builder builder, URI uri, RepoId repo, String path, boolean stopAtCdn)
            throws IOException {
        URI current = uri;
        for (int i = 0; i <= MAX_REDIRECTS; i++) {
            HttpResponse<InputStream> response = send(builder, repo, path);
            if (!isRedirect(response.statusCode())) return response;
            response.body().close();
            String location = response.headers().firstValue("Location")
                    .orElseThrow(() -> new JDiffusionException(repo + ": " + path + ": a redirect without a Location"));
            // a HEAD follows only relative redirects (a renamed repository); an absolute one goes to the CDN,
            // which has none of the Hub's metadata headers
            if (stopAtCdn && URI.create(location).getHost() != null) return response;
            URI next = current.resolve(location);
            builder = copyTo(builder, next);
            current = next;
        }
        throw new JDiffusionException(repo + ": " + path + ": more than " + MAX_REDIRECTS + " redirects from " + uri);
    }

    private HttpRequest.Builder copyTo(HttpRequest.Builder builder, URI next) {
        HttpRequest old = builder.build();
        HttpRequest.Builder b = HttpRequest.newBuilder(next).method(old.method(), HttpRequest.BodyPublishers.noBody());
        old.timeout().ifPresent(b::timeout);
        old.headers().map().forEach((name, values) -> {
            if (name.equalsIgnoreCase("Authorization") && !sameHost(next, settings.endpoint())) return;
            values.forEach(v -> b.header(name, v));
        });
        return b;
    }

    private HttpResponse<InputStream> send(HttpRequest.Builder builder, RepoId repo, String path) throws IOException {
        HttpRequest request = builder.build();
        HttpResponse<InputStream> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (IOException e) {
            throw new UnreachableException(request.uri().getScheme() + "://" + request.uri().getAuthority() + " is unreachable ("
                    + describe(e) + ")", e);
        }
        int status = response.statusCode();
        if (status < 400) return response;
        String errorCode = response.headers().firstValue("X-Error-Code").orElse("");
        String hubMessage = response.headers().firstValue("X-Error-Message").orElse("");
        response.body().close();
        throw new JDiffusionException(errorMessage(status, errorCode, hubMessage, repo, path));
    }

    /** One line the user can act on, from the status and the Hub's X-Error-Code. */
    private String errorMessage(int status, String errorCode, String hubMessage, RepoId repo, String path) {
        String where = repo + (path.isEmpty() ? "" : ": " + path);
        String page = settings.endpoint() + "/" + repo.id();
        if (errorCode.equals("GatedRepo") || ((status == 401 || status == 403) && !errorCode.equals("RepoNotFound"))) {
            return where + ": access denied (HTTP " + status + "): the repository is gated or private; accept its licence at "
                    + page + " and set HF_TOKEN to an access token" + (settings.token() != null ? " that has access (the one set was refused)" : "");
        }
        if (errorCode.equals("RevisionNotFound")) return repo.id() + ": no revision '" + repo.revision() + "' on " + settings.endpoint();
        if (errorCode.equals("EntryNotFound")) return where + ": no such file at revision '" + repo.revision() + "'";
        if (errorCode.equals("RepoNotFound") || status == 404) {
            return repo + ": not found on " + settings.endpoint() + " (no such repository or revision"
                    + (settings.token() == null ? "; a private one needs HF_TOKEN)" : ")");
        }
        return where + ": the Hub answered HTTP " + status + (hubMessage.isEmpty() ? "" : " (" + hubMessage + ")");
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).header("User-Agent", "jdiffusion");
        // the token is for the Hub only: a CDN gets a signed URL instead
        if (settings.token() != null && sameHost(uri, settings.endpoint())) b.header("Authorization", "Bearer " + settings.token());
        return b;
    }

    URI resolveUrl(RepoId repo, String revision, String path) {
        StringBuilder p = new StringBuilder();
        for (String part : path.split("/")) p.append('/').append(encode(part));
        return URI.create(settings.endpoint() + "/" + repo.id() + "/resolve/" + encode(revision) + p);
    }

    /** huggingface_hub's ETag normalisation: no weak prefix, no quotes. */
    static String normalizeEtag(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) e = e.substring(2);
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) e = e.substring(1, e.length() - 1);
        return e;
    }

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    private static boolean sameHost(URI a, URI b) {
        return Objects.equals(a.getHost(), b.getHost()) && a.getPort() == b.getPort();
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static String describe(Throwable e) {
        String m = e.getMessage();
        return (m == null || m.isBlank() ? e.getClass().getSimpleName() : m).lines().findFirst().orElse("");
    }
}
