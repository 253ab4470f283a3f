package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The job queue over HTTP: progress while a job runs, interrupting it, a full queue, many clients
 * at once, and clients that go away.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class JobsApiTest {
    private JDiffusionServer server;
    private ApiClient client;

    private void start(int queueSize) {
        String model = Fixtures.require("tiny-sd15.safetensors").toString();
        server = JDiffusionServer.start(ServerOptions.of(model, null).withPort(0).withWatermark(false).withQueueSize(queueSize));
        client = new ApiClient(server);
    }

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    private static ObjectNode job(long seed, int steps, int batches) {
        ObjectNode b = ApiClient.object();
        b.put("prompt", "a lighthouse at night");
        b.put("seed", seed);
        b.put("steps", steps);
        b.put("n_iter", batches);
        b.put("width", 64);
        b.put("height", 64);
        return b;
    }

    /** A job far too long to finish during a test (100 batches of 1000 steps) unless interrupted. */
    private static ObjectNode endlessJob() {
        return job(7, 1000, 100);
    }

    /** Polls GET /sdapi/v1/progress until the answer satisfies {@code until}. */
    private JsonNode awaitProgress(Predicate<JsonNode> until) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (System.nanoTime() < deadline) {
            ApiClient.Reply p = client.get("/sdapi/v1/progress");
            assertThat(p.status()).isEqualTo(200);
            if (until.test(p.json())) return p.json();
            Thread.sleep(20);
        }
        throw new AssertionError("progress never reached the expected state");
    }

    @Test
    void progressMovesWithAPreviewAndInterruptReturnsWhatItHas() throws Exception {
        start(4);
        JsonNode idle = client.get("/sdapi/v1/progress").json();
        assertThat(idle.get("progress").asDouble()).isZero();
        assertThat(idle.get("current_image").isNull()).isTrue();

        CompletableFuture<ApiClient.Reply> running = client.postAsync("/sdapi/v1/txt2img", endlessJob());
        JsonNode first = awaitProgress(p -> p.get("state").get("sampling_step").asInt() >= 1);
        int firstStep = first.get("state").get("sampling_step").asInt();
        JsonNode later = awaitProgress(p -> p.get("state").get("sampling_step").asInt() > firstStep);

        assertThat(later.get("progress").asDouble()).isGreaterThan(first.get("progress").asDouble()).isLessThan(1.0);
        assertThat(later.get("state").get("sampling_steps").asInt()).isEqualTo(1000);
        assertThat(later.get("state").get("job_count").asInt()).isEqualTo(100);
        assertThat(later.get("state").get("interrupted").asBoolean()).isFalse();
        assertThat(later.get("eta_relative").asDouble()).isPositive();
        Png.Image preview = Png.decode(Base64.getDecoder().decode(later.get("current_image").asText()), "current_image");
        assertThat(preview.width()).isEqualTo(8); // latent resolution: 64 / 8
        assertThat(preview.height()).isEqualTo(8);
        JsonNode noImage = client.get("/sdapi/v1/progress?skip_current_image=true").json();
        assertThat(noImage.get("current_image").isNull()).isTrue();

        assertThat(client.post("/sdapi/v1/interrupt", ApiClient.object()).status()).isEqualTo(200);
        ApiClient.Reply reply = running.get(2, TimeUnit.MINUTES);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        assertThat(reply.json().get("images")).hasSize(1); // the first batch, decoded where it stopped; no others
        assertThat(reply.image(0).width()).isEqualTo(64);
        assertThat(reply.info().get("interrupted").asBoolean()).isTrue();

        JsonNode after = awaitProgress(p -> p.get("state").get("job_count").asInt() == 0);
        assertThat(after.get("current_image").isNull()).isTrue();
        // the next job is not affected by the earlier interrupt
        ApiClient.Reply next = client.post("/sdapi/v1/txt2img", job(8, 2, 1));
        assertThat(next.status()).as(next.text()).isEqualTo(200);
        assertThat(next.info().get("interrupted").asBoolean()).isFalse();
    }

    @Test
    void aFullQueueIsRefusedWith503AndRetryAfter() throws Exception {
        start(1);
        CompletableFuture<ApiClient.Reply> running = client.postAsync("/sdapi/v1/txt2img", endlessJob());
        awaitProgress(p -> p.get("state").get("sampling_step").asInt() >= 1);
        CompletableFuture<ApiClient.Reply> waiting = client.postAsync("/sdapi/v1/txt2img", job(9, 1, 1));
        awaitProgress(p -> p.get("queued").asInt() == 1);

        ApiClient.Reply refused = client.post("/sdapi/v1/txt2img", job(10, 1, 1));
        assertThat(refused.status()).isEqualTo(503);
        assertThat(refused.headers().firstValue("Retry-After")).isPresent();
        assertThat(Integer.parseInt(refused.headers().firstValue("Retry-After").get())).isPositive();
        assertThat(refused.json().get("detail").asText()).contains("queue is full");
        // the other routes still answer while the queue is full
        assertThat(client.get("/sdapi/v1/sd-models").status()).isEqualTo(200);

        client.post("/sdapi/v1/interrupt", ApiClient.object());
        assertThat(running.get(2, TimeUnit.MINUTES).status()).isEqualTo(200);
        ApiClient.Reply second = waiting.get(2, TimeUnit.MINUTES);
        assertThat(second.status()).as(second.text()).isEqualTo(200);
        assertThat(second.info().get("interrupted").asBoolean()).isFalse();
        assertThat(second.info().get("seed").asLong()).isEqualTo(9);
    }

    @Test
    void tenConcurrentRequestsAllComplete() throws Exception {
        start(9); // one runs, nine wait: exactly full
        List<CompletableFuture<ApiClient.Reply>> replies = new ArrayList<>();
        for (int i = 0; i < 10; i++) replies.add(client.postAsync("/sdapi/v1/txt2img", job(1000 + i, 1, 1)));
        for (int i = 0; i < 10; i++) {
            ApiClient.Reply r = replies.get(i).get(4, TimeUnit.MINUTES);
            assertThat(r.status()).as(r.text()).isEqualTo(200);
            assertThat(r.info().get("seed").asLong()).isEqualTo(1000 + i);
            assertThat(Infotext.parse(r.image(0).text().get("parameters")).get("Seed")).isEqualTo(Long.toString(1000 + i));
        }
    }

    @Test
    void clientsThatGoAwayLeaveTheServerAndQueueWorking() throws Exception {
        start(4);
        String body = job(11, 2, 1).toString();
        // a client that sends a whole request and hangs up at once
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.getOutputStream().write(httpPost(body, body.length()));
            s.getOutputStream().flush();
        }
        // one that hangs up in the middle of its body
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(httpPost(body.substring(0, 10), body.length()));
            out.flush();
        }
        ApiClient.Reply after = client.post("/sdapi/v1/txt2img", job(12, 2, 1));
        assertThat(after.status()).as(after.text()).isEqualTo(200);
        assertThat(after.info().get("seed").asLong()).isEqualTo(12);
        JsonNode idle = awaitProgress(p -> p.get("state").get("job_count").asInt() == 0 && p.get("queued").asInt() == 0);
        assertThat(idle.get("progress").asDouble()).isZero();
    }

    private static byte[] httpPost(String body, int declaredLength) {
        return ("POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + declaredLength + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8);
    }
}
