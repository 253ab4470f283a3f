package io.jdiffusion.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Lanczos resampling bit for bit as Pillow does it (test resources pillow-resize/), and A1111's resize modes. */
class ImageResizeTest {
    private static final int W = 37, H = 23;

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = ImageResizeTest.class.getResourceAsStream("/pillow-resize/" + name)) {
            assertThat(in).as(name).isNotNull();
            return in.readAllBytes();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "out_16x11.rgb, 16, 11, 0, 0, 37, 23",
            "out_80x50.rgb, 80, 50, 0, 0, 37, 23",
            "out_37x5_box_0_0_37_0.rgb, 37, 5, 0, 0, 37, 0",
            "out_6x23_box_37_0_37_23.rgb, 6, 23, 37, 0, 37, 23",
            "out_20x12_box_3.5_2_30_20.rgb, 20, 12, 3.5, 2, 30, 20"})
    void equalsPillow(String file, int w, int h, double x0, double y0, double x1, double y1) throws IOException {
        byte[] got = ImageResize.lanczos(resource("src.rgb"), 3, W, H, x0, y0, x1, y1, w, h);
        assertThat(got).isEqualTo(resource(file));
    }

    @Test
    void oneChannelEqualsPillowToo() throws IOException {
        assertThat(ImageResize.lanczos(resource("src.l"), 1, W, H, 0, 0, W, H, 16, 11)).isEqualTo(resource("out_16x11.l"));
    }

    @Test
    void luminanceEqualsPillowsConvertL() throws IOException {
        assertThat(new RgbImage(W, H, resource("src.rgb")).luminance()).isEqualTo(resource("src.l"));
    }

    @Test
    void theSameSizeIsTheSameImage() throws IOException {
        RgbImage img = new RgbImage(W, H, resource("src.rgb"));
        for (ResizeMode mode : ResizeMode.values()) assertThat(ImageResize.resize(img, W, H, mode)).isSameAs(img);
    }

    /** 40×20: left half black, right half white; a 1-pixel red frame row at the top. */
    private static RgbImage wide() {
        byte[] rgb = new byte[40 * 20 * 3];
        for (int y = 0; y < 20; y++) {
            for (int x = 0; x < 40; x++) {
                int i = (y * 40 + x) * 3;
                int v = x < 20 ? 0 : 255;
                rgb[i] = (byte) (y == 0 ? 255 : v);
                rgb[i + 1] = (byte) (y == 0 ? 0 : v);
                rgb[i + 2] = (byte) (y == 0 ? 0 : v);
            }
        }
        return new RgbImage(40, 20, rgb);
    }

    @Test
    void cropCoversTheTargetAndCutsTheSides() {
        // 2:1 into a square: scaled to 40 high (80 wide), the middle 40 columns kept
        RgbImage out = ImageResize.resize(wide(), 40, 40, ResizeMode.CROP);
        assertThat(out.width()).isEqualTo(40);
        assertThat(out.height()).isEqualTo(40);
        assertThat(out.get(0, 20, 1)).isEqualTo(0);    // left edge: the black half
        assertThat(out.get(39, 20, 1)).isEqualTo(255); // right edge: the white half
        assertThat(out.get(5, 0, 0)).isEqualTo(255);   // the red top row survives at the top
    }

    @Test
    void fillFitsTheImageAndStretchesItsEdgesIntoTheBands() {
        // 2:1 into a square: scaled to 40x20 in the middle, bands of 10 above and below from the edge rows
        RgbImage out = ImageResize.resize(wide(), 40, 40, ResizeMode.FILL);
        assertThat(out.get(5, 0, 0)).as("top band takes the red top row").isGreaterThan(200);
        assertThat(out.get(5, 0, 1)).isLessThan(60);
        assertThat(out.get(5, 39, 1)).as("bottom band takes the bottom row").isLessThan(10);
        assertThat(out.get(35, 39, 1)).isGreaterThan(245);
        assertThat(out.get(5, 20, 1)).isLessThan(10);
    }

    @Test
    void resizeStretches() {
        RgbImage out = ImageResize.resize(wide(), 20, 40, ResizeMode.RESIZE);
        assertThat(out.get(2, 20, 1)).isLessThan(10);
        assertThat(out.get(17, 20, 1)).isGreaterThan(245);
    }
}
