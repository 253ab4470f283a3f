package io.jdiffusion.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A stand-in for the Hugging Face Hub on loopback, speaking the parts of its protocol a download uses:
 * {@code /api/models/{repo}/revision/{rev}} (sha, siblings), HEAD/GET {@code /{repo}/resolve/{rev}/{path}}
 * (X-Repo-Commit, ETag; LFS files: X-Linked-Etag = sha256, X-Linked-Size and a 302 to a "CDN" path), and
 * the CDN serving bytes with Range support. Errors carry X-Error-Code as the Hub's do.
 */
final class FakeHub implements AutoCloseable {
    /** A repository at one commit; {@code .safetensors} files are LFS files, the rest live in git. */
    record Repo(String id, String commit, Map<String, byte[]> files, String requiredToken) {
    }

    /** One request as the server saw it. */
    record Seen(String method, String path, String range, String authorization) {
    }

    private final HttpServer server;
    /** The "CDN" LFS downloads are redirected to: another port, so another origin that must not see the token. */
    private final HttpServer cdn;
    private final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final Map<String, byte[]> blobsBySha = new ConcurrentHashMap<>();
    private final Set<String> cutOffOnce = Collections.synchronizedSet(new HashSet<>());
    private final Set<String> corrupted = Collections.synchronizedSet(new HashSet<>());
    final List<Seen> seen = Collections.synchronizedList(new ArrayList<>());

    FakeHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
        cdn = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        cdn.createContext("/", this::handle);
        cdn.start();
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    void add(Repo repo) {
        repos.put(repo.id(), repo);
        repo.files().forEach((path, bytes) -> {
            if (isLfs(path)) blobsBySha.put(sha256(bytes), bytes);
        });
    }

    /** The next CDN download of this content stops halfway, the connection closed. */
    void cutOffOnce(byte[] content) {
        cutOffOnce.add(sha256(content));
    }

    /** The CDN serves this content with one byte changed. */
    void corrupt(byte[] content) {
        corrupted.add(sha256(content));
    }

    List<Seen> requests(String method, String pathPart) {
        synchronized (seen) {
            return seen.stream().filter(s -> s.method().equals(method) && s.path().contains(pathPart)).toList();
        }
    }

    @Override
    public void close() {
        server.stop(0);
        cdn.stop(0);
    }

    static boolean isLfs(String path) {
        return path.endsWith(".safetensors") || path.endsWith(".bin");
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String gitSha1(byte[] bytes) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            md.update(("blob " + bytes.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(md.digest(bytes));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        seen.add(new Seen(ex.getRequestMethod(), path, ex.getRequestHeaders().getFirst("Range"),
                ex.getRequestHeaders().getFirst("Authorization")));
        try (ex) {
            if (path.startsWith("/api/models/")) api(ex, path.substring("/api/models/".length()));
            else if (path.startsWith("/cdn/")) cdn(ex, path.substring("/cdn/".length()));
            else resolve(ex, path.substring(1));
        }
    }

    /** owner/name/revision/rev */
    private void api(HttpExchange ex, String rest) throws IOException {
        String[] p = rest.split("/", 4);
        Repo repo = access(ex, p[0] + "/" + p[1]);
        if (repo == null) return;
        if (!p[3].equals("main") && !p[3].equals(repo.commit())) {
            error(ex, 404, "RevisionNotFound");
            return;
        }
        StringBuilder json = new StringBuilder("{\"id\":\"" + repo.id() + "\",\"sha\":\"" + repo.commit() + "\",\"siblings\":[");
        int i = 0;
        for (String file : repo.files().keySet()) json.append(i++ > 0 ? "," : "").append("{\"rfilename\":\"").append(file).append("\"}");
        json.append("]}");
        byte[] body = json.toString().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
    }

    /** owner/name/resolve/rev/path... */
    private void resolve(HttpExchange ex, String rest) throws IOException {
        String[] p = rest.split("/", 5);
        if (p.length < 5 || !p[2].equals("resolve")) {
            error(ex, 404, "EntryNotFound");
            return;
        }
        Repo repo = access(ex, p[0] + "/" + p[1]);
        if (repo == null) return;
        if (!p[3].equals("main") && !p[3].equals(repo.commit())) {
            error(ex, 404, "RevisionNotFound");
            return;
        }
        byte[] content = repo.files().get(p[4]);
        if (content == null) {
            error(ex, 404, "EntryNotFound");
            return;
        }
        var h = ex.getResponseHeaders();
        h.set("X-Repo-Commit", repo.commit());
        if (isLfs(p[4])) {
            String sha = sha256(content);
            h.set("ETag", "\"cdn-etag-" + sha.substring(0, 8) + "\"");
            h.set("X-Linked-Etag", "\"" + sha + "\"");
            h.set("X-Linked-Size", Long.toString(content.length));
            h.set("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/cdn/" + sha + "?signature=abc");
            ex.sendResponseHeaders(302, -1);
            return;
        }
        h.set("ETag", "\"" + gitSha1(content) + "\"");
        body(ex, content, 0);
    }

    private void cdn(HttpExchange ex, String sha) throws IOException {
        byte[] content = blobsBySha.get(sha);
        if (content == null) {
            error(ex, 404, "");
            return;
        }
        if (corrupted.contains(sha)) {
            content = content.clone();
            content[content.length / 2] ^= 1;
        }
        String range = ex.getRequestHeaders().getFirst("Range");
        long from = 0;
        if (range != null && range.startsWith("bytes=") && range.endsWith("-")) {
            from = Long.parseLong(range.substring(6, range.length() - 1));
            ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
        }
        if (ex.getRequestMethod().equals("GET") && cutOffOnce.remove(sha)) {
            // announce the whole file, send half, then drop the connection
            ex.sendResponseHeaders(from > 0 ? 206 : 200, content.length - from);
            OutputStream out = ex.getResponseBody();
            out.write(content, (int) from, (int) (content.length - from) / 2);
            out.flush();
            throw new IOException("connection dropped on purpose");
        }
        ex.getResponseHeaders().set("ETag", "\"" + sha + "\"");
        body(ex, content, from, from > 0 ? 206 : 200);
    }

    private Repo access(HttpExchange ex, String id) throws IOException {
        Repo repo = repos.get(id);
        if (repo == null) {
            error(ex, 404, "RepoNotFound");
            return null;
        }
        if (repo.requiredToken() != null) {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth == null) {
                error(ex, 401, "GatedRepo");
                return null;
            }
            if (!auth.equals("Bearer " + repo.requiredToken())) {
                error(ex, 403, "GatedRepo");
                return null;
            }
        }
        return repo;
    }

    private static void body(HttpExchange ex, byte[] content, long from) throws IOException {
        body(ex, content, from, 200);
    }

    private static void body(HttpExchange ex, byte[] content, long from, int status) throws IOException {
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().set("Content-Length", Long.toString(content.length));
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, content.length - from);
        ex.getResponseBody().write(content, (int) from, (int) (content.length - from));
    }

    private static void error(HttpExchange ex, int status, String code) throws IOException {
        if (!code.isEmpty()) ex.getResponseHeaders().set("X-Error-Code", code);
        ex.sendResponseHeaders(status, -1);
    }

    /** A diffusers repository like SD-Turbo's, with small fake contents. */
    static Map<String, byte[]> diffusersFiles() {
        Map<String, byte[]> f = new LinkedHashMap<>();
        f.put("model_index.json", ("{\"_class_name\":\"StableDiffusionPipeline\",\"unet\":[\"diffusers\",\"UNet2DConditionModel\"],"
                + "\"vae\":[\"diffusers\",\"AutoencoderKL\"],\"text_encoder\":[\"transformers\",\"CLIPTextModel\"],"
                + "\"tokenizer\":[\"transformers\",\"CLIPTokenizer\"],\"scheduler\":[\"diffusers\",\"EulerDiscreteScheduler\"],"
                + "\"safety_checker\":[\"stable_diffusion\",\"StableDiffusionSafetyChecker\"],"
                + "\"feature_extractor\":[null,null]}").getBytes(StandardCharsets.UTF_8));
        f.put("README.md", text("# a model card"));
        f.put("sd_turbo.safetensors", bytes(5000, 1));
        f.put("unet/config.json", text("{\"sample_size\":64}"));
        f.put("unet/diffusion_pytorch_model.safetensors", bytes(400_000, 2));
        f.put("unet/diffusion_pytorch_model.fp16.safetensors", bytes(200_000, 3));
        f.put("unet/diffusion_pytorch_model.fp16.bin", bytes(1000, 4));
        f.put("vae/config.json", text("{\"latent_channels\":4}"));
        f.put("vae/diffusion_pytorch_model.safetensors", bytes(30_000, 5)); // no fp16 variant: the plain one
        f.put("vae/diffusion_flax_model.msgpack", bytes(100, 6));
        f.put("text_encoder/config.json", text("{\"hidden_size\":32}"));
        f.put("text_encoder/model.safetensors", bytes(60_000, 7));
        f.put("text_encoder/model.fp16.safetensors", bytes(30_000, 8));
        f.put("tokenizer/vocab.json", text("{\"a</w>\":0}"));
        f.put("tokenizer/merges.txt", text("#version: 0.2\n"));
        f.put("tokenizer/tokenizer_config.json", text("{\"pad_token\":\"!\"}"));
        f.put("tokenizer/special_tokens_map.json", text("{}"));
        f.put("scheduler/scheduler_config.json", text("{\"timestep_spacing\":\"trailing\"}"));
        f.put("safety_checker/config.json", text("{}"));
        f.put("safety_checker/model.fp16.safetensors", bytes(10_000, 9));
        return f;
    }

    static byte[] text(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }
}
