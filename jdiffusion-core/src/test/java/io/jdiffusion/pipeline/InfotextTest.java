package io.jdiffusion.pipeline;

import io.jdiffusion.sampling.SamplerId;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InfotextTest {

    private static Txt2ImgRequest request(String prompt, String negative, String sampler, double cfg, int clipSkip) {
        return new Txt2ImgRequest(Path.of("v1-5-pruned-emaonly.safetensors"), null, prompt, negative, sampler,
                20, cfg, 1234567890L, 512, 512, 1, clipSkip, null, true);
    }

    @Test
    void formatsTheExampleFromTheA1111Document() {
        Txt2ImgRequest r = request("a photograph of an astronaut riding a horse", "blurry, low quality",
                "dpmpp_2m_karras", 7.0, 2);
        String text = Infotext.forTxt2Img(r, r.seed(), "6ce0161689", "v1-5-pruned-emaonly").format();
        // the example in shared/docs/A1111.md, with our Version
        assertThat(text).isEqualTo("""
                a photograph of an astronaut riding a horse
                Negative prompt: blurry, low quality
                Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, \
                Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, RNG: CPU, \
                Version:\s""" + Infotext.version());
    }

    @Test
    void leavesOutAnEmptyNegativePromptAClipSkipOfOneAndUnknownModelFields() {
        Txt2ImgRequest r = request("a cat", "", "euler_a", 7.5, 1);
        String text = Infotext.forTxt2Img(r, -1L, null, null).format();
        assertThat(text).isEqualTo("a cat\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.5, "
                + "Seed: 18446744073709551615, Size: 512x512, RNG: CPU, Version: " + Infotext.version());
    }

    @Test
    void parsesWhatA1111Writes() {
        String a1111 = """
                masterpiece, (best quality:1.2), a castle
                on a hill
                Negative prompt: lowres, bad anatomy
                worst quality
                Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, \
                Size: 768x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, \
                Lora hashes: "add_detail: 7c6bad76eb54, more_art: 0a1b2c3d4e5f", Version: v1.10.1""";
        Infotext info = Infotext.parse(a1111);
        assertThat(info.prompt()).isEqualTo("masterpiece, (best quality:1.2), a castle\non a hill");
        assertThat(info.negativePrompt()).isEqualTo("lowres, bad anatomy\nworst quality");
        assertThat(info.parameters()).containsExactly(
                Map.entry("Steps", "30"),
                Map.entry("Sampler", "DPM++ 2M"),
                Map.entry("Schedule type", "Karras"),
                Map.entry("CFG scale", "6.5"),
                Map.entry("Seed", "3141592653"),
                Map.entry("Size", "768x512"),
                Map.entry("Model hash", "6ce0161689"),
                Map.entry("Model", "v1-5-pruned-emaonly"),
                Map.entry("Lora hashes", "add_detail: 7c6bad76eb54, more_art: 0a1b2c3d4e5f"),
                Map.entry("Version", "v1.10.1"));
        assertThat(SamplerId.fromA1111(info.get("Sampler"), info.get("Schedule type"))).isEqualTo(SamplerId.DPMPP_2M_KARRAS);
    }

    @Test
    void roundTripsValuesThatNeedQuoting() {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("Steps", "4");
        params.put("Sampler", "Euler");
        params.put("Model", "my model, v2: final");
        params.put("Note", "line one\nline \"two\" \\ end");
        params.put("Seed", "7");
        Infotext original = new Infotext("宇宙飛行士が馬に乗っている, été\nsecond line", "ugly, 低品質", params);
        String text = original.format();
        assertThat(text).contains("Model: \"my model, v2: final\"");
        assertThat(text.lines().count()).isEqualTo(4); // the newline inside "Note" is escaped
        assertThat(Infotext.parse(text)).isEqualTo(original);
    }

    @Test
    void aTextWithoutAParameterLineIsAllPrompt() {
        Infotext info = Infotext.parse("just a prompt\nNegative prompt: nothing: here");
        assertThat(info.prompt()).isEqualTo("just a prompt");
        assertThat(info.negativePrompt()).isEqualTo("nothing: here");
        assertThat(info.parameters()).isEmpty();
    }

    @Test
    void samplerNamesFollowA1111() {
        assertThat(SamplerId.EULER_A.a1111Name).isEqualTo("Euler a");
        assertThat(SamplerId.PNDM.a1111Name).isEqualTo("PLMS");
        assertThat(SamplerId.DPMPP_2M_SDE_KARRAS.scheduleType).isEqualTo("Karras");
        assertThat(SamplerId.fromA1111("DPM++ 2M SDE Karras", null)).isEqualTo(SamplerId.DPMPP_2M_SDE_KARRAS);
        assertThat(SamplerId.fromA1111("Euler a", "Automatic")).isEqualTo(SamplerId.EULER_A);
        assertThat(SamplerId.fromA1111("DPM++ 3M SDE", "Exponential")).isNull();
        for (SamplerId id : SamplerId.values()) {
            assertThat(SamplerId.fromA1111(id.a1111Name, id.scheduleType)).isEqualTo(id);
            assertThat(SamplerId.parse(id.displayName)).isEqualTo(id);
        }
        assertThatThrownBy(() -> SamplerId.parse("k_euler")).hasMessageContaining("euler_a");
    }

    @Test
    void modelHashIsTheStartOfTheFilesSha256(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("abc.safetensors");
        Files.write(file, "abc".getBytes(StandardCharsets.US_ASCII));
        // FIPS 180-2 test vector: SHA-256("abc") = ba7816bf8f01cfea...
        assertThat(Infotext.modelHash(file)).isEqualTo("ba7816bf8f");
        assertThat(Infotext.modelName(file)).isEqualTo("abc");
        assertThat(Infotext.modelName(dir)).isEqualTo(dir.getFileName().toString());
    }
}
