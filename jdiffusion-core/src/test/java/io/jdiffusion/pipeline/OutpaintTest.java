package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Outpainting on the tiny models: the canvas grows, and beyond the overlap band the original stays as it was. */
class OutpaintTest {

    private static Txt2ImgRequest params(Path model) {
        return new Txt2ImgRequest(model, null, "a photograph of an astronaut riding a horse", "blurry", "euler_a", 3,
                7.5, 11, 0, 0, 1, 1, null, false);
    }

    private static void checkGrowsAndKeepsTheOriginal(Path model) {
        RgbImage init = RgbImage.read(Fixtures.require("tiny-sd15-ref/init.png"), "init");
        // 20 on the left becomes 24, 8 at the bottom stays 8: canvas 88 x 72
        OutpaintRequest request = new OutpaintRequest(params(model), init, 20, 0, 0, 8, null, 16, true);
        GeneratedImage out = Outpaint.run(new LoadedModel(ModelLoader.load(model, null)), request, StepListener.NONE).getFirst();

        assertThat(out.width()).isEqualTo(24 + init.width());
        assertThat(out.height()).isEqualTo(init.height() + 8);
        int changedInNewArea = 0;
        for (int y = 0; y < out.height(); y++) {
            for (int x = 0; x < out.width(); x++) {
                int ox = x - 24;
                boolean inOriginal = ox >= 0 && y < init.height();
                boolean inBand = inOriginal && (ox < 16 || y >= init.height() - 16);
                for (int c = 0; c < 3; c++) {
                    int got = out.rgb()[(y * out.width() + x) * 3 + c] & 0xff;
                    if (inOriginal && !inBand) {
                        assertThat(got).as("pixel (%d, %d) outside the band", x, y).isEqualTo(init.get(ox, y, c));
                    } else if (!inOriginal && got != 0) {
                        changedInNewArea++;
                    }
                }
            }
        }
        assertThat(changedInNewArea).as("the new area is painted").isPositive();
    }

    @Test
    void ordinaryModel() {
        checkGrowsAndKeepsTheOriginal(Fixtures.tinySd15());
    }

    @Test
    void inpaintingModel() {
        checkGrowsAndKeepsTheOriginal(Fixtures.require("tiny-sd15-inpainting.safetensors"));
    }

    @Test
    void extensionRoundsUpToMultiplesOf8AndPadsAnOddSizedImage() {
        RgbImage odd = RgbImage.filled(70, 64, 1, 2, 3);
        OutpaintRequest r = new OutpaintRequest(params(Path.of("m")), odd, 1, 0, 9, 0, null, 16, true);
        // 1 → 8, 9 → 16; 8 + 70 + 16 = 94 → 2 more on the right
        assertThat(r.extension()).containsExactly(8, 0, 18, 0);
        assertThat(r.resolvedParams().width()).isEqualTo(96);
        assertThat(r.resolvedParams().height()).isEqualTo(64);
    }

    @Test
    void badExtensionsAreRefused() {
        RgbImage img = RgbImage.filled(64, 64, 0, 0, 0);
        assertThatThrownBy(() -> new OutpaintRequest(params(Path.of("m")), img, -8, 0, 0, 0, null, 16, true).validate())
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("--extend: -8 is negative");
        assertThatThrownBy(() -> new OutpaintRequest(params(Path.of("m")), img, 0, 0, 0, 0, null, 16, true).validate())
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("nothing to add");
        assertThatThrownBy(() -> new OutpaintRequest(params(Path.of("m")), img, 0, 0, 5000, 0, null, 16, true).validate())
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("larger than 4096x4096");
    }

    @Test
    void fillContinuesTheEdgeColours() {
        // left half red, right half blue: the area added on the left takes red, on the right blue
        byte[] rgb = new byte[64 * 64 * 3];
        for (int p = 0; p < 64 * 64; p++) rgb[3 * p + ((p % 64) < 32 ? 0 : 2)] = (byte) 200;
        RgbImage canvas = Outpaint.fill(new RgbImage(64, 64, rgb), 128, 64, 32, 0);
        assertThat(canvas.get(0, 10, 0)).isGreaterThan(150);
        assertThat(canvas.get(0, 10, 2)).isLessThan(50);
        assertThat(canvas.get(127, 10, 2)).isGreaterThan(150);
        assertThat(canvas.get(40, 10, 0)).isEqualTo(200); // original pixels untouched
    }
}
