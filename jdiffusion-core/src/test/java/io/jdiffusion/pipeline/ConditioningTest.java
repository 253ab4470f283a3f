package io.jdiffusion.pipeline;

import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** Prompt and negative prompt of different chunk counts go through the UNet together. */
class ConditioningTest {

    @Test
    void theShorterIsPaddedWithEmptyPromptChunks() {
        LoadedModel model = new LoadedModel(ModelLoader.load(Fixtures.tinySd15(), null));
        String longPrompt = "horse ".repeat(100);
        Txt2ImgRequest request = new Txt2ImgRequest(Fixtures.tinySd15(), null, longPrompt, "blurry", "euler", 2, 7.5,
                1, 64, 64, 2, 1, null, false);
        Generation.Conditioning c = Generation.Conditioning.of(model, request);
        int width = model.encodePrompt("", 1).dim(2);
        assertThat(c.cond().shape).containsExactly(2, 154, width);
        assertThat(c.uncond().shape).containsExactly(2, 154, width);
        Tensor negative = model.encodePrompt("blurry", 1), empty = model.encodePrompt("", 1);
        int block = 77 * width;
        for (int n = 0; n < 2; n++) {
            int row = n * 2 * block;
            assertThat(Arrays.copyOfRange(c.uncond().data, row, row + block)).containsExactly(negative.data);
            assertThat(Arrays.copyOfRange(c.uncond().data, row + block, row + 2 * block)).containsExactly(empty.data);
        }
        // and a whole run works with it
        assertThat(Txt2Img.run(model, request, null)).hasSize(2);
    }
}
