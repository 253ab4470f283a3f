package io.jdiffusion.server;

import io.jdiffusion.io.Png;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Malformed requests: each gets a 4xx JSON error naming the field at fault, and nothing makes the
 * server answer 5xx. No valid generation request is sent, so nothing here runs the model.
 */
class ValidationTest {
    private static final long BODY_LIMIT = 256 * 1024;
    private static JDiffusionServer server;
    private static ApiClient client;

    @BeforeAll
    static void start() {
        String model = Fixtures.require("tiny-sd15.safetensors").toString();
        server = JDiffusionServer.start(ServerOptions.of(model, null).withPort(0).withMaxBodyBytes(BODY_LIMIT));
        client = new ApiClient(server);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static final String TXT2IMG = "/sdapi/v1/txt2img";
    private static final String IMG2IMG = "/sdapi/v1/img2img";
    private static final String OUTPAINT = "/jdiffusion/v1/outpaint";

    static Stream<Arguments> malformed() {
        String png = Base64.getEncoder().encodeToString(Png.encode(64, 64, new byte[64 * 64 * 3], Map.of()));
        String init = "\"init_images\":[\"" + png + "\"]";
        String mask = "\"mask\":\"" + png + "\"";
        return Stream.of(
                // the body itself
                Arguments.of(TXT2IMG, "this is not json", 400, "body"),
                Arguments.of(TXT2IMG, "", 400, "body"),
                Arguments.of(TXT2IMG, "[1, 2, 3]", 422, "body"),
                Arguments.of(TXT2IMG, "{\"prompt\": \"a\"} {\"prompt\": \"b\"}", 400, "body"),
                Arguments.of(TXT2IMG, "{\"steps\": 5, \"steps\": 6}", 400, "body"),
                Arguments.of(TXT2IMG, "{\"seed\": NaN}", 400, "body"),
                Arguments.of(TXT2IMG, "[".repeat(5000) + "]".repeat(5000), 400, "body"),
                Arguments.of(TXT2IMG, "{\"prompt\": \"" + "x".repeat((int) BODY_LIMIT) + "\"}", 413, "body"),
                // types and ranges
                Arguments.of(TXT2IMG, "{\"steps\": \"many\"}", 422, "steps"),
                Arguments.of(TXT2IMG, "{\"steps\": 0}", 422, "steps"),
                Arguments.of(TXT2IMG, "{\"steps\": 2.5}", 422, "steps"),
                Arguments.of(TXT2IMG, "{\"steps\": 99999999999999999999999}", 422, "steps"),
                Arguments.of(TXT2IMG, "{\"width\": 100}", 422, "width"),
                Arguments.of(TXT2IMG, "{\"height\": 0}", 422, "height"),
                Arguments.of(TXT2IMG, "{\"width\": 4096, \"height\": 4096}", 422, "width"),
                Arguments.of(TXT2IMG, "{\"cfg_scale\": \"high\"}", 422, "cfg_scale"),
                Arguments.of(TXT2IMG, "{\"cfg_scale\": -1}", 422, "cfg_scale"),
                Arguments.of(TXT2IMG, "{\"cfg_scale\": 1e999}", 422, "cfg_scale"),
                Arguments.of(TXT2IMG, "{\"sampler_name\": \"Nope\"}", 422, "sampler_name"),
                Arguments.of(TXT2IMG, "{\"sampler_index\": \"Nope\"}", 422, "sampler_index"),
                Arguments.of(TXT2IMG, "{\"sampler_name\": \"Euler\", \"scheduler\": \"Exponential\"}", 422, "scheduler"),
                Arguments.of(TXT2IMG, "{\"sampler_name\": \"Euler a\", \"scheduler\": \"Karras\"}", 422, "sampler_name"),
                Arguments.of(TXT2IMG, "{\"seed\": \"abc\"}", 422, "seed"),
                Arguments.of(TXT2IMG, "{\"seed\": 1e30}", 422, "seed"),
                Arguments.of(TXT2IMG, "{\"batch_size\": 0}", 422, "batch_size"),
                Arguments.of(TXT2IMG, "{\"batch_size\": 64, \"width\": 2048, \"height\": 2048}", 422, "batch_size"),
                Arguments.of(TXT2IMG, "{\"n_iter\": 1000}", 422, "n_iter"),
                Arguments.of(TXT2IMG, "{\"prompt\": 42}", 422, "prompt"),
                Arguments.of(TXT2IMG, "{\"negative_prompt\": [\"a\"]}", 422, "negative_prompt"),
                Arguments.of(TXT2IMG, "{\"send_images\": \"maybe\"}", 422, "send_images"),
                Arguments.of(TXT2IMG, "{\"override_settings\": \"x\"}", 422, "override_settings"),
                Arguments.of(TXT2IMG, "{\"override_settings\": {\"CLIP_stop_at_last_layers\": 0}}", 422,
                        "override_settings.CLIP_stop_at_last_layers"),
                Arguments.of(TXT2IMG, "{\"override_settings\": {\"sd_model_checkpoint\": \"nope\"}}", 422,
                        "override_settings.sd_model_checkpoint"),
                // hires fix: what we do not have is refused by name
                Arguments.of(TXT2IMG, "{\"enable_hr\": true, \"hr_upscaler\": \"R-ESRGAN 4x+\"}", 422, "hr_upscaler"),
                Arguments.of(TXT2IMG, "{\"enable_hr\": true, \"hr_scale\": 0.5}", 422, "hr_scale"),
                Arguments.of(TXT2IMG, "{\"enable_hr\": true, \"hr_scale\": 8, \"width\": 1024, \"height\": 1024}", 422, "hr_scale"),
                Arguments.of(TXT2IMG, "{\"enable_hr\": true, \"hr_resize_x\": 1024}", 422, "hr_resize_x"),
                Arguments.of(TXT2IMG, "{\"enable_hr\": true, \"denoising_strength\": 0}", 422, "denoising_strength"),
                Arguments.of(TXT2IMG, "{\"enable_hr\": true, \"hr_second_pass_steps\": -1}", 422, "hr_second_pass_steps"),
                // features we do not have
                Arguments.of(TXT2IMG, "{\"subseed_strength\": 0.5}", 422, "subseed_strength"),
                Arguments.of(TXT2IMG, "{\"alwayson_scripts\": {\"controlnet\": {}}}", 422, "alwayson_scripts"),
                // images
                Arguments.of(IMG2IMG, "{}", 422, "init_images"),
                Arguments.of(IMG2IMG, "{\"init_images\": \"abc\"}", 422, "init_images"),
                Arguments.of(IMG2IMG, "{\"init_images\": [42]}", 422, "init_images[0]"),
                Arguments.of(IMG2IMG, "{\"init_images\": [\"%%% not base64 %%%\"]}", 422, "init_images[0]"),
                Arguments.of(IMG2IMG, "{\"init_images\": [\"aGVsbG8gd29ybGQ=\"]}", 422, "init_images[0]"),
                Arguments.of(IMG2IMG, "{\"init_images\": [\"" + hugeImageHeader() + "\"]}", 422, "init_images[0]"),
                Arguments.of(IMG2IMG, "{" + init + ", \"mask\": \"!!\"}", 422, "mask"),
                Arguments.of(IMG2IMG, "{" + init + ", \"denoising_strength\": 1.5}", 422, "denoising_strength"),
                Arguments.of(IMG2IMG, "{" + init + ", \"resize_mode\": 7}", 422, "resize_mode"),
                Arguments.of(IMG2IMG, "{" + init + ", \"resize_mode\": 3}", 422, "resize_mode"),
                Arguments.of(IMG2IMG, "{" + init + ", \"denoising_strength\": 0.01}", 422, "denoising_strength"),
                Arguments.of(IMG2IMG, "{" + init + ", \"denoising_strength\": \"strong\"}", 422, "denoising_strength"),
                // the mask is black: nothing to inpaint on its own
                Arguments.of(IMG2IMG, "{" + init + ", " + mask + ", \"inpaint_full_res\": true}", 422, "mask"),
                Arguments.of(IMG2IMG, "{" + init + ", " + mask + ", \"inpaint_full_res_padding\": -1}", 422, "inpaint_full_res_padding"),
                Arguments.of(IMG2IMG, "{" + init + ", " + mask + ", \"mask_blur\": -1}", 422, "mask_blur"),
                Arguments.of(IMG2IMG, "{" + init + ", " + mask + ", \"inpainting_fill\": 4}", 422, "inpainting_fill"),
                Arguments.of(IMG2IMG, "{" + init + ", " + mask + ", \"inpainting_mask_invert\": 2}", 422, "inpainting_mask_invert"),
                Arguments.of(IMG2IMG, "{" + init + ", " + mask + ", \"jdiffusion_overlay\": \"perhaps\"}", 422, "jdiffusion_overlay"),
                Arguments.of(OUTPAINT, "{}", 422, "init_images"),
                Arguments.of(OUTPAINT, "{" + init + "}", 422, "left"),
                Arguments.of(OUTPAINT, "{" + init + ", \"left\": -8}", 422, "left"),
                Arguments.of(OUTPAINT, "{" + init + ", \"bottom\": \"lots\"}", 422, "bottom"),
                Arguments.of(OUTPAINT, "{" + init + ", \"right\": 64, \"overlap\": 1000}", 422, "overlap"),
                Arguments.of(OUTPAINT, "{" + init + ", \"right\": 4096}", 422, "left, top, right, bottom"),
                Arguments.of(OUTPAINT, "{" + init + ", \"right\": 64, \"denoising_strength\": 0.01}", 422, "denoising_strength"),
                Arguments.of("/sdapi/v1/png-info", "{}", 422, "image"),
                Arguments.of("/sdapi/v1/png-info", "{\"image\": \"aGVsbG8=\"}", 422, "image"),
                Arguments.of("/sdapi/v1/png-info", "{\"image\": \"" + hugeImageHeader() + "\"}", 422, "image"),
                // options
                Arguments.of("/sdapi/v1/options", "{\"sd_model_checkpoint\": \"nope\"}", 422, "sd_model_checkpoint"),
                Arguments.of("/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\": \"x\"}", 422, "CLIP_stop_at_last_layers"));
    }

    @ParameterizedTest(name = "{0} {3}")
    @MethodSource("malformed")
    void malformedRequestsGetA4xxNamingTheField(String path, String body, int status, String field) {
        ApiClient.Reply reply = client.postRaw(path, body);
        assertThat(reply.status()).as(reply.text()).isEqualTo(status);
        assertThat(reply.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
        assertThat(reply.json().get("field").asText()).isEqualTo(field);
        assertThat(reply.json().get("detail").asText()).startsWith(field + ": ");
    }

    /**
     * Every field with every wrong kind of value: never a 5xx. A last, always-bad field keeps any
     * request that happens to be valid from generating.
     */
    @Test
    void noWrongValueMakesA5xx() {
        String[] fields = {"prompt", "negative_prompt", "seed", "subseed", "subseed_strength", "sampler_name",
                "sampler_index", "scheduler", "batch_size", "n_iter", "steps", "cfg_scale", "width", "height",
                "enable_hr", "hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x", "hr_resize_y", "refiner_checkpoint", "refiner_switch_at", "tiling", "restore_faces", "script_name", "alwayson_scripts", "send_images", "save_images",
                "styles", "eta", "init_images", "mask", "denoising_strength", "resize_mode", "mask_blur",
                "inpainting_fill", "inpaint_full_res", "inpaint_full_res_padding", "inpainting_mask_invert",
                "include_init_images", "jdiffusion_overlay", "left", "top", "right", "bottom", "overlap"};
        String[] values = {"\"x\"", "\"\"", "[]", "[null]", "{}", "{\"a\": 1}", "true", "null", "-1", "0", "-1e308",
                "1e308", "123456789012345678901234567890", "0.5", "\"-1\"", "\"1e5\""};
        List<String> failures = new ArrayList<>();
        for (String path : new String[]{TXT2IMG, IMG2IMG, OUTPAINT}) {
            for (String field : fields) {
                for (String value : values) {
                    // the unknown model stops any request that is otherwise valid
                    String guard = ", \"override_settings\": {\"sd_model_checkpoint\": \"no such model\"}";
                    String body = "{\"" + field + "\": " + value + guard + "}";
                    ApiClient.Reply reply = client.postRaw(path, body);
                    boolean ok = reply.status() >= 400 && reply.status() < 500;
                    if (!ok || reply.json() == null || !reply.json().has("detail")) failures.add(path + " " + body + " -> " + reply.status());
                }
            }
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void unknownRoutesAndMethodsAreJsonErrors() {
        ApiClient.Reply missing = client.get("/sdapi/v1/nope");
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.json().get("error").asText()).isEqualTo("NotFound");
        ApiClient.Reply wrongMethod = client.get(TXT2IMG);
        assertThat(wrongMethod.status()).isEqualTo(405);
        assertThat(wrongMethod.json().has("detail")).isTrue();
    }

    /** A valid PNG signature and IHDR chunk claiming 100000 × 100000 pixels, and nothing else. */
    private static String hugeImageHeader() {
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(100_000).putInt(100_000).put((byte) 8).put((byte) 2)
                .put((byte) 0).put((byte) 0).put((byte) 0);
        ByteBuffer file = ByteBuffer.allocate(8 + 12 + 13);
        file.put(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        file.putInt(13).put("IHDR".getBytes(StandardCharsets.US_ASCII)).put(ihdr.array());
        CRC32 crc = new CRC32();
        crc.update("IHDR".getBytes(StandardCharsets.US_ASCII));
        crc.update(ihdr.array());
        file.putInt((int) crc.getValue());
        return Base64.getEncoder().encodeToString(file.array());
    }
}
