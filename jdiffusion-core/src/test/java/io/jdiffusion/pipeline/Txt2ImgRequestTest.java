package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.assertThatCode;

class Txt2ImgRequestTest {

    private static Txt2ImgRequest with(int width, int height, int steps, double cfg, int batch, int clipSkip, String prediction) {
        return new Txt2ImgRequest(Path.of("model.safetensors"), null, "a cat", "", "euler_a",
                steps, cfg, 42, width, height, batch, clipSkip, prediction, true);
    }

    private static void assertRejected(Txt2ImgRequest r, String flag, String detail) {
        assertThatThrownBy(r::validate)
                .isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith(flag + ":")
                .hasMessageContaining(detail)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void acceptsSensibleValues() {
        assertThatCode(() -> with(512, 768, 20, 7.5, 1, 1, null).validate()).doesNotThrowAnyException();
        assertThatCode(() -> with(64, 4096, 1, 0, 64, 2, "v_prediction").validate()).doesNotThrowAnyException();
        assertThatCode(() -> with(8 * 100, 8 * 9, 1000, 30, 1, 12, "epsilon").validate()).doesNotThrowAnyException();
    }

    @Test
    void rejectsEachBadValueNamingItsFlag() {
        assertRejected(with(513, 512, 20, 7, 1, 1, null), "--width", "multiple of 8");
        assertRejected(with(512, 100, 20, 7, 1, 1, null), "--height", "multiple of 8");
        assertRejected(with(4104, 512, 20, 7, 1, 1, null), "--width", "4096");
        assertRejected(with(512, 0, 20, 7, 1, 1, null), "--height", "8..4096");
        assertRejected(with(512, 512, 0, 7, 1, 1, null), "--steps", "1..1000");
        assertRejected(with(512, 512, 1001, 7, 1, 1, null), "--steps", "1..1000");
        assertRejected(with(512, 512, 20, -0.5, 1, 1, null), "--cfg-scale", ">= 0");
        assertRejected(with(512, 512, 20, Double.NaN, 1, 1, null), "--cfg-scale", "NaN");
        assertRejected(with(512, 512, 20, 7, 0, 1, null), "--batch-size", "1..64");
        assertRejected(with(512, 512, 20, 7, 65, 1, null), "--batch-size", "1..64");
        assertRejected(with(512, 512, 20, 7, 1, 0, null), "--clip-skip", "at least 1");
        assertRejected(with(512, 512, 20, 7, 1, 1, "sample"), "--prediction-type", "epsilon, v_prediction");
    }
}
