package io.jdiffusion.pipeline;

import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A seed gives the same image every time, bit for bit: the first run in a fresh JVM (kernels still
 * interpreted) and later runs (kernels compiled) alike, so nothing may depend on the JIT's choices.
 */
class ReproducibilityTest {
    @Test
    void theSameRequestGivesTheSameBytesOnEveryRun() {
        Path model = Fixtures.require("tiny-sd15.safetensors");
        LoadedModel loaded = new LoadedModel(ModelLoader.load(model, null));
        Txt2ImgRequest request = new Txt2ImgRequest(model, null, "a photograph of an astronaut riding a horse",
                "blurry, low quality", "euler_a", 3, 7.5, 1234, 72, 48, 2, 1, null, false);
        byte[] first = Txt2Img.run(loaded, request, StepListener.NONE).get(1).rgb();
        for (int run = 0; run < 3; run++) {
            assertThat(Txt2Img.run(loaded, request, StepListener.NONE).get(1).rgb()).as("run " + (run + 2)).isEqualTo(first);
        }
    }
}
