package io.jdiffusion.pipeline;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Where img2img and inpainting parameters go in the infotext: A1111's order. */
class GenerationInfotextTest {

    @Test
    void denoisingStrengthBeforeClipSkipAndMaskBlurAtTheEnd() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("Steps", "20");
        p.put("Seed", "1");
        p.put("Model", "m");
        p.put("Clip skip", "2");
        p.put("RNG", "CPU");
        p.put("Version", "v");
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("Denoising strength", "0.75");
        extra.put("Mask blur", "4");
        Infotext out = Generation.withParameters(new Infotext("a", "", p), extra);
        assertThat(List.copyOf(out.parameters().keySet()))
                .containsExactly("Steps", "Seed", "Model", "Denoising strength", "Clip skip", "RNG", "Mask blur", "Version");
        assertThat(Infotext.parse(out.format()).get("Denoising strength")).isEqualTo("0.75");
    }
}
