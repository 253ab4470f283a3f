package io.jdiffusion.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * POST /sdapi/v1/img2img with a stand-in pipeline: what the server decodes from A1111's fields reaches
 * the pipeline, and its images come back as A1111 returns them (ImagePipelinesApiTest runs the real one).
 */
class Img2ImgApiTest {
    private static final AtomicReference<Img2ImgPipeline.Job> LAST = new AtomicReference<>();
    private static JDiffusionServer server;
    private static ApiClient client;

    /** Gives back the init image (which the tests send at the output size), once per batch entry. */
    private static List<GeneratedImage> echoInit(Img2ImgPipeline.Job job) {
        LAST.set(job);
        List<GeneratedImage> out = new ArrayList<>();
        for (int i = 0; i < job.generation().batchSize(); i++) {
            out.add(new GeneratedImage(job.initImage().width(), job.initImage().height(), job.initImage().rgb(),
                    job.generation().seed(), "img2img of " + job.generation().prompt()));
        }
        return out;
    }

    @BeforeAll
    static void start() {
        String model = Fixtures.require("tiny-sd15.safetensors").toString();
        server = JDiffusionServer.start(ServerOptions.of(model, null).withPort(0),
                (loaded, job, listener) -> echoInit(job));
        client = new ApiClient(server);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static byte[] gradient(int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 7);
        return rgb;
    }

    @Test
    void initImageMaskAndOptionsReachThePipeline() {
        byte[] init = gradient(64, 64);
        byte[] mask = new byte[32 * 32 * 3];
        java.util.Arrays.fill(mask, 0, mask.length / 2, (byte) 255);
        ObjectNode body = ApiClient.object();
        body.put("prompt", "a castle");
        body.putArray("init_images").add("data:image/png;base64," + Base64.getEncoder().encodeToString(Png.encode(64, 64, init, Map.of())));
        body.put("mask", Base64.getEncoder().encodeToString(Png.encode(32, 32, mask, Map.of())));
        body.put("denoising_strength", 0.4);
        body.put("mask_blur", 2);
        body.put("inpainting_fill", 1);
        body.put("inpainting_mask_invert", 1);
        body.put("inpaint_full_res", false);
        body.put("width", 64);
        body.put("height", 64);
        body.put("steps", 3);
        body.put("seed", 77);
        body.put("batch_size", 2);

        ApiClient.Reply reply = client.post("/sdapi/v1/img2img", body);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        Img2ImgPipeline.Job job = LAST.get();
        assertThat(job.initImage().rgb()).isEqualTo(init);
        assertThat(job.mask().width()).isEqualTo(32);
        assertThat(job.mask().rgb()).isEqualTo(mask);
        assertThat(job.denoisingStrength()).isEqualTo(0.4);
        assertThat(job.maskBlur()).isEqualTo(2);
        assertThat(job.inpaintingFill()).isEqualTo(1);
        assertThat(job.invertMask()).isTrue();
        assertThat(job.inpaintFullRes()).isFalse();
        assertThat(job.overlay()).isTrue();
        assertThat(job.generation().steps()).isEqualTo(3);
        assertThat(job.generation().seed()).isEqualTo(77);
        assertThat(job.generation().sampler()).isEqualTo("euler_a");

        assertThat(reply.json().get("images")).hasSize(2);
        assertThat(reply.image(1).rgb()).isEqualTo(init);
        assertThat(reply.image(1).text()).containsEntry("parameters", "img2img of a castle");
        assertThat(reply.info().get("denoising_strength").asDouble()).isEqualTo(0.4);
        // the init image and mask are not echoed back unless asked for
        assertThat(reply.json().get("parameters").get("init_images").isNull()).isTrue();
        assertThat(reply.json().get("parameters").get("mask").isNull()).isTrue();
    }

    @Test
    void plainImg2ImgHasNoMaskAndA1111Defaults() {
        ObjectNode body = ApiClient.object();
        body.putArray("init_images").add(Base64.getEncoder().encodeToString(Png.encode(64, 64, gradient(64, 64), Map.of())));
        body.put("width", 64);
        body.put("height", 64);
        body.put("include_init_images", true);
        ApiClient.Reply reply = client.post("/sdapi/v1/img2img", body);
        assertThat(reply.status()).as(reply.text()).isEqualTo(200);
        Img2ImgPipeline.Job job = LAST.get();
        assertThat(job.mask()).isNull();
        assertThat(job.denoisingStrength()).isEqualTo(0.75);
        assertThat(job.maskBlur()).isEqualTo(4);
        assertThat(job.resizeMode()).isZero();
        assertThat(reply.json().get("parameters").get("init_images").get(0).asText()).isNotEmpty();
        assertThat(Infotext.parse(reply.image(0).text().get("parameters")).prompt()).isEqualTo("img2img of");
    }
}
