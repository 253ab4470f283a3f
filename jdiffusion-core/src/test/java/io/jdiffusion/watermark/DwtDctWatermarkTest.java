package io.jdiffusion.watermark;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The watermark against the fixtures made with the library itself (cases of kind {@code watermark}):
 * our encoder gives its watermarked pixels, our decoder reads what its decoder read.
 */
class DwtDctWatermarkTest {

    private static JsonNode watermarkCase(String id) {
        return Fixtures.cases("watermark").stream().filter(c -> c.get("id").asText().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no watermark case " + id));
    }

    private static Png.Image image(JsonNode c, String field) {
        return Png.read(Fixtures.require(c.get(field).asText()));
    }

    private static WatermarkMessage message(JsonNode c) {
        StringBuilder digits = new StringBuilder();
        c.get("message_bit_list").forEach(b -> digits.append(b.asInt()));
        return WatermarkMessage.ofBinary(c.get("message").asText(), digits.toString());
    }

    private static boolean[] bits(JsonNode list) {
        boolean[] out = new boolean[list.size()];
        for (int i = 0; i < out.length; i++) out[i] = list.get(i).asInt() == 1;
        return out;
    }

    /** Largest per-channel difference in levels. */
    private static int maxDifference(byte[] a, byte[] b) {
        assertThat(a).hasSameSizeAs(b);
        int max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] & 0xff) - (b[i] & 0xff)));
        return max;
    }

    @Test
    void theSd1MessageIsTheBytesOfStableDiffusionV1() {
        JsonNode c = watermarkCase("sd1_bytes");
        assertThat(message(c)).isEqualTo(WatermarkMessage.STABLE_DIFFUSION_V1);
        assertThat(WatermarkMessage.STABLE_DIFFUSION_V1.length()).isEqualTo(c.get("message_bits").asInt());
    }

    @Test
    void theSdxlMessageIsDiffusersBits() {
        JsonNode c = watermarkCase("sdxl_bits");
        assertThat(message(c)).isEqualTo(WatermarkMessage.SDXL);
        assertThat(c.get("message").asText()).isEqualTo("0b" + WatermarkMessage.binary(WatermarkMessage.SDXL.bits()));
    }

    @Test
    void encoder8BitGivesTheLibrarysPixels() {
        JsonNode c = watermarkCase("sd1_bytes");
        Png.Image input = image(c, "input"), expected = image(c, "image");
        byte[] ours = DwtDctWatermark.encodeRgb8(input.rgb(), input.width(), input.height(), message(c));
        assertThat(maxDifference(ours, expected.rgb())).as("max |Δ| in levels").isLessThanOrEqualTo(1);
    }

    @Test
    void encoderFloatGivesDiffusersPixels() {
        JsonNode c = watermarkCase("sdxl_bits");
        Png.Image input = image(c, "input"), expected = image(c, "image");
        Tensor ours = DwtDctWatermark.encodeDecoded(signed(input), message(c));
        assertThat(maxDifference(LoadedModel.toRgb8(ours)[0], expected.rgb())).as("max |Δ| in levels").isLessThanOrEqualTo(1);
    }

    @Test
    void decoderReadsWhatTheLibraryRead() {
        for (JsonNode c : Fixtures.cases("watermark")) {
            int length = c.get("message_bits").asInt();
            for (String which : new String[]{"watermarked", "input"}) {
                Png.Image img = image(c, which.equals("input") ? "input" : "image");
                boolean[] read = DwtDctWatermark.readRgb8(img.rgb(), img.width(), img.height(), length);
                JsonNode expected = c.get("decoded").get(which);
                String what = c.get("id").asText() + " " + which;
                if (expected.has("hex")) {
                    assertThat(WatermarkMessage.hex(read)).as(what).isEqualTo(expected.get("hex").asText());
                } else {
                    assertThat(read).as(what).containsExactly(bits(expected.get("bits")));
                }
                assertThat(message(c).matchingBits(read)).as(what).isEqualTo(expected.get("bits_matching").asInt());
            }
        }
    }

    @Test
    void floatDecoderReadsWhatTheLibraryReadBeforeRounding() {
        JsonNode c = watermarkCase("sdxl_bits");
        Png.Image input = image(c, "input");
        int w = input.width(), h = input.height(), n = w * h;
        Tensor x = signed(input);
        float[] r = new float[n], g = new float[n], b = new float[n];
        for (int i = 0; i < n; i++) {
            r[i] = 255f * (x.data[i] / 2f + 0.5f);
            g[i] = 255f * (x.data[n + i] / 2f + 0.5f);
            b[i] = 255f * (x.data[2 * n + i] / 2f + 0.5f);
        }
        DwtDctWatermark.encodeFloat(r, g, b, w, h, message(c));
        boolean[] read = DwtDctWatermark.readFloat(r, g, b, w, h, 48);
        assertThat(read).containsExactly(bits(c.get("decoded").get("watermarked_float_before_8bit").get("bits")));
    }

    /** The fixture's stand-in for a VAE output: input/127.5 − 1, [1, 3, H, W]. */
    private static Tensor signed(Png.Image img) {
        int n = img.width() * img.height();
        float[] data = new float[3 * n];
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < 3; ch++) data[ch * n + i] = (img.rgb()[3 * i + ch] & 0xff) / 127.5f - 1f;
        }
        return new Tensor(data, 1, 3, img.height(), img.width());
    }
}
