package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.io.Png;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;

/** A plain HTTP client for the tests: real requests over loopback, JSON in and out. */
final class ApiClient {
    static final ObjectMapper JSON = new ObjectMapper();

    /** One answer: status, headers and the body parsed as JSON (null when it is not JSON). */
    record Reply(int status, java.net.http.HttpHeaders headers, String text, JsonNode json) {
        /** The decoded image {@code i} of a txt2img answer. */
        Png.Image image(int i) {
            return Png.decode(Base64.getDecoder().decode(json.get("images").get(i).asText()), "images[" + i + "]");
        }

        /** The "info" string of a generation answer, parsed. */
        JsonNode info() {
            try {
                return JSON.readTree(json.get("info").asText());
            } catch (IOException e) {
                throw new AssertionError("info is not JSON: " + json.get("info"), e);
            }
        }
    }

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String base;
    private final String authorization;

    ApiClient(JDiffusionServer server) {
        this(server, null);
    }

    ApiClient(JDiffusionServer server, String userColonPassword) {
        this.base = "http://127.0.0.1:" + server.port();
        this.authorization = userColonPassword == null ? null
                : "Basic " + Base64.getEncoder().encodeToString(userColonPassword.getBytes(StandardCharsets.UTF_8));
    }

    static ObjectNode object() {
        return JSON.createObjectNode();
    }

    Reply get(String path) {
        return send(request(path).GET().build());
    }

    Reply post(String path, JsonNode body) {
        return postRaw(path, body.toString());
    }

    Reply postRaw(String path, String body) {
        return send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    CompletableFuture<Reply> postAsync(String path, JsonNode body) {
        HttpRequest r = request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        return http.sendAsync(r, HttpResponse.BodyHandlers.ofString()).thenApply(ApiClient::reply);
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofMinutes(10));
        if (authorization != null) b.header("Authorization", authorization);
        return b;
    }

    private Reply send(HttpRequest r) {
        try {
            return reply(http.send(r, HttpResponse.BodyHandlers.ofString()));
        } catch (IOException e) {
            throw new AssertionError(r.method() + " " + r.uri() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static Reply reply(HttpResponse<String> res) {
        JsonNode json;
        try {
            json = JSON.readTree(res.body());
        } catch (IOException e) {
            json = null;
        }
        return new Reply(res.statusCode(), res.headers(), res.body(), json);
    }
}
