package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Reading init images and masks, and their conversion for the VAE. */
class RgbImageTest {
    @TempDir
    Path dir;

    private static BufferedImage sample() {
        BufferedImage img = new BufferedImage(24, 16, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 24; x++) img.setRGB(x, y, x < 12 ? 0xff0000 : 0x0000ff);
        return img;
    }

    @Test
    void readsPngJpegAndBmp() throws IOException {
        Path png = dir.resolve("a.png");
        byte[] rgb = new byte[24 * 16 * 3];
        for (int p = 0; p < 24 * 16; p++) rgb[3 * p + ((p % 24) < 12 ? 0 : 2)] = (byte) 255;
        Png.write(png, 24, 16, rgb, Map.of());
        assertThat(RgbImage.read(png, "--init-image").rgb()).isEqualTo(rgb);
        for (String format : new String[]{"jpg", "bmp"}) {
            Path file = dir.resolve("a." + format);
            assertThat(ImageIO.write(sample(), format, file.toFile())).isTrue();
            RgbImage img = RgbImage.read(file, "--init-image");
            assertThat(img.width()).isEqualTo(24);
            assertThat(img.height()).isEqualTo(16);
            assertThat(img.get(2, 8, 0)).as(format).isGreaterThan(200);
            assertThat(img.get(20, 8, 2)).as(format).isGreaterThan(200);
        }
    }

    @Test
    void filesThatAreNoImagesAreNamedInTheError() throws IOException {
        Path text = Files.writeString(dir.resolve("a.txt"), "hello");
        assertThatThrownBy(() -> RgbImage.read(text, "--mask")).isInstanceOf(JDiffusionException.class)
                .hasMessage("--mask: " + text + ": not an image this program reads (PNG, JPEG, BMP or GIF)");
        assertThatThrownBy(() -> RgbImage.read(dir.resolve("none.png"), "--init-image"))
                .hasMessage("--init-image: " + dir.resolve("none.png") + ": no such file");
        Path cut = dir.resolve("cut.png");
        Png.write(cut, 24, 16, new byte[24 * 16 * 3], Map.of());
        byte[] bytes = Files.readAllBytes(cut);
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertThatThrownBy(() -> RgbImage.read(cut, "--init-image")).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("--init-image: ");
    }

    @Test
    void toTensorIsDiffusersNormalisation() {
        RgbImage img = new RgbImage(2, 1, new byte[]{0, (byte) 255, (byte) 128, 1, 2, 3});
        float[] t = img.toTensor().data; // planar: R of both pixels, then G, then B
        assertThat(t[0]).isEqualTo(-1f);
        assertThat(t[1]).isEqualTo(2f * (1 / 255f) - 1f);
        assertThat(t[2]).isEqualTo(1f);
        assertThat(t[4]).isEqualTo(2f * (128 / 255f) - 1f);
    }
}
