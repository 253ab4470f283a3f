package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.model.ModelFamily;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The progress endpoint's current_image drawn by a TAESD (serve --preview taesd), and its fall-back to the linear mix. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class TaesdPreviewApiTest {
    private JDiffusionServer server;
    private ApiClient client;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    private void start(PreviewImages previews) {
        String model = Fixtures.require("tiny-sd15.safetensors").toString();
        server = JDiffusionServer.start(ServerOptions.of(model, null).withPort(0).withWatermark(false), previews);
        client = new ApiClient(server);
    }

    /** current_image while a long job runs, then the job interrupted. */
    private Png.Image previewOfARunningJob() throws Exception {
        ObjectNode job = ApiClient.object();
        job.put("prompt", "a lighthouse at night");
        job.put("seed", 7);
        job.put("steps", 1000);
        job.put("width", 64);
        job.put("height", 48);
        CompletableFuture<ApiClient.Reply> running = client.postAsync("/sdapi/v1/txt2img", job);
        try {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (System.nanoTime() < deadline) {
                JsonNode p = client.get("/sdapi/v1/progress").json();
                if (p.get("state").get("sampling_step").asInt() >= 1 && !p.get("current_image").isNull()) {
                    return Png.decode(Base64.getDecoder().decode(p.get("current_image").asText()), "current_image");
                }
                Thread.sleep(20);
            }
            throw new AssertionError("no preview while the job ran");
        } finally {
            client.post("/sdapi/v1/interrupt", ApiClient.object());
            running.get(2, TimeUnit.MINUTES);
        }
    }

    @Test
    void taesdPreviewsAreFullSize() throws Exception {
        List<ModelFamily> asked = new CopyOnWriteArrayList<>();
        Path taesd = Generated.require("taesd/tiny-taesd");
        start(PreviewImages.taesd(family -> {
            asked.add(family);
            return taesd;
        }));
        Png.Image preview = previewOfARunningJob();
        assertThat(preview.width()).isEqualTo(64);
        assertThat(preview.height()).isEqualTo(48);
        assertThat(asked).containsExactly(ModelFamily.SD1); // found once, for the running model's family
    }

    @Test
    void withoutATaesdThePreviewsStayLinear() throws Exception {
        start(PreviewImages.taesd(family -> {
            throw new JDiffusionException("madebyollin/taesd: not in the cache and HF_HUB_OFFLINE is set");
        }));
        Png.Image preview = previewOfARunningJob();
        assertThat(preview.width()).isEqualTo(8);
        assertThat(preview.height()).isEqualTo(6);
    }
}
