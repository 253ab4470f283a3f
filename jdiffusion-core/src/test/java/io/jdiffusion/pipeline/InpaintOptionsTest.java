package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.EnumMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A1111's inpainting options beyond diffusers' behaviour: "Masked content" ({@link MaskedContent}) and
 * "Inpaint area: Only masked", with the tiny SD 1.x model.
 */
class InpaintOptionsTest {
    private static LoadedModel model;

    @BeforeAll
    static void load() {
        model = new LoadedModel(ModelLoader.load(Fixtures.tinySd15(), null));
    }

    private static Txt2ImgRequest params(int width, int height) {
        return new Txt2ImgRequest(Fixtures.tinySd15(), null, "a red apple", "", "euler", 4, 7.0, 5, width, height, 1, 1,
                null, false);
    }

    /** A 64×64 picture: two colour fields and a soft gradient, so filled and repainted parts show. */
    private static RgbImage picture(int width, int height) {
        byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = 3 * (y * width + x);
                rgb[p] = (byte) (x < width / 2 ? 200 : 30);
                rgb[p + 1] = (byte) (4 * y % 256);
                rgb[p + 2] = (byte) (x < width / 2 ? 40 : 220);
            }
        }
        return new RgbImage(width, height, rgb);
    }

    /** White (repaint) in the box [x0, x1) × [y0, y1), black elsewhere. */
    private static RgbImage box(int width, int height, int x0, int y0, int x1, int y1) {
        byte[] v = new byte[width * height];
        for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) v[y * width + x] = (byte) 255;
        return RgbImage.gray(width, height, v);
    }

    private static InpaintRequest request(RgbImage picture, RgbImage mask, double strength, MaskedContent content,
                                          boolean onlyMasked, int padding, int maskBlur, boolean overlay, int w, int h) {
        return new InpaintRequest(params(w, h), picture, mask, strength, ResizeMode.RESIZE, false, maskBlur, overlay,
                content, onlyMasked, padding);
    }

    private static GeneratedImage run(InpaintRequest request) {
        return Inpaint.run(model, request, StepListener.NONE).getFirst();
    }

    /** Mean |Δ| over the pixels inside [x0, x1) × [y0, y1). */
    private static double meanDelta(RgbImage a, GeneratedImage b, int x0, int y0, int x1, int y1) {
        double sum = 0;
        int n = 0;
        for (int y = y0; y < y1; y++) {
            for (int x = x0; x < x1; x++) {
                for (int c = 0; c < 3; c++) {
                    int i = 3 * (y * a.width() + x) + c;
                    sum += Math.abs((a.rgb()[i] & 0xff) - (b.rgb()[i] & 0xff));
                    n++;
                }
            }
        }
        return sum / n;
    }

    @Test
    void theEightArgumentRequestIsTheOriginalContentOnTheWholePicture() {
        InpaintRequest r = new InpaintRequest(params(0, 0), picture(64, 64), box(64, 64, 8, 8, 24, 24), 0.6,
                ResizeMode.RESIZE, false, 4, true);
        assertThat(r.maskedContent()).isEqualTo(MaskedContent.ORIGINAL);
        assertThat(r.onlyMasked()).isFalse();
        assertThat(r.onlyMaskedPadding()).isEqualTo(32);
    }

    @Test
    void eachMaskedContentStartsTheMaskedAreaDifferentlyAndKeepsTheRest() {
        RgbImage picture = picture(64, 64), mask = box(64, 64, 8, 16, 32, 48);
        Map<MaskedContent, GeneratedImage> out = new EnumMap<>(MaskedContent.class);
        for (MaskedContent content : MaskedContent.values()) {
            out.put(content, run(request(picture, mask, 0.5, content, false, 32, 0, true, 64, 64)));
        }
        for (MaskedContent content : MaskedContent.values()) {
            GeneratedImage g = out.get(content);
            // the overlay with a sharp mask keeps everything outside it
            for (int y = 0; y < 64; y++) {
                for (int x = 0; x < 64; x++) {
                    if (x >= 8 && x < 32 && y >= 16 && y < 48) continue;
                    for (int c = 0; c < 3; c++) {
                        int i = 3 * (y * 64 + x) + c;
                        assertThat(g.rgb()[i]).as("%s at (%d, %d)", content, x, y).isEqualTo(picture.rgb()[i]);
                    }
                }
            }
            String written = Infotext.parse(g.infotext()).get("Masked content");
            if (content == MaskedContent.ORIGINAL) assertThat(written).isNull(); // A1111 writes it only otherwise
            else assertThat(written).isEqualTo(content.label());
            for (MaskedContent other : MaskedContent.values()) {
                if (other.ordinal() <= content.ordinal()) continue;
                assertThat(meanDelta(new RgbImage(64, 64, out.get(other).rgb()), g, 8, 16, 32, 48))
                        .as("%s and %s under the mask", content, other).isGreaterThan(1.0);
            }
        }
    }

    @Test
    void atStrengthOneEveryMaskedContentStartsFromTheSameNoise() {
        RgbImage picture = picture(64, 64), mask = box(64, 64, 8, 16, 32, 48);
        GeneratedImage original = run(request(picture, mask, 1.0, MaskedContent.ORIGINAL, false, 32, 0, true, 64, 64));
        for (MaskedContent content : MaskedContent.values()) {
            GeneratedImage g = run(request(picture, mask, 1.0, content, false, 32, 0, true, 64, 64));
            assertThat(g.rgb()).as(content.toString()).isEqualTo(original.rgb());
        }
    }

    @Test
    void fillGivesTheMaskedPixelsTheColoursAroundThemAndKeepsTheOthers() {
        RgbImage picture = picture(64, 64);
        byte[] mask = box(64, 64, 4, 20, 20, 44).luminance(); // inside the red-and-green left half
        RgbImage filled = Masks.fill(picture, mask);
        for (int p = 0; p < mask.length; p++) {
            int x = p % 64, y = p / 64;
            if (mask[p] == 0) {
                for (int c = 0; c < 3; c++) assertThat(filled.rgb()[3 * p + c]).isEqualTo(picture.rgb()[3 * p + c]);
            } else {
                // red 200 / blue 40 around it on the left; green follows the rows above and below
                assertThat(filled.get(x, y, 0)).as("red at (%d, %d)", x, y).isGreaterThan(150);
                assertThat(filled.get(x, y, 2)).as("blue at (%d, %d)", x, y).isLessThan(90);
                assertThat(filled.get(x, y, 1)).as("green at (%d, %d)", x, y).isBetween(4 * 20 - 30, 4 * 43 + 30);
            }
        }
    }

    @Test
    void theMaskedAreaIsTheMaskBoxPaddedAndWidenedToTheOutputAspect() {
        byte[] mask = box(100, 50, 40, 20, 50, 30).luminance();
        // box [40, 50) × [20, 30), padding 5: [35, 55) × [15, 35), 20×20; an output twice as wide as high
        // widens it by 20 pixels, 10 on each side
        assertThat(MaskedArea.around(mask, 100, 50, 5, 64, 32)).isEqualTo(new MaskedArea.Box(25, 15, 40, 20));
        // a square output keeps the square box
        assertThat(MaskedArea.around(mask, 100, 50, 5, 64, 64)).isEqualTo(new MaskedArea.Box(35, 15, 20, 20));
        // a tall output on a picture 50 high: grown to 40 high, moved down into the picture
        assertThat(MaskedArea.around(box(100, 50, 40, 0, 50, 4).luminance(), 100, 50, 2, 32, 64))
                .isEqualTo(new MaskedArea.Box(38, 0, 14, 28));
        // padding past the edges stops at them; on the right edge the widened box is moved back inside
        assertThat(MaskedArea.around(box(100, 50, 90, 10, 100, 20).luminance(), 100, 50, 4, 64, 32))
                .isEqualTo(new MaskedArea.Box(64, 6, 36, 18));
    }

    @Test
    void onlyMaskedInpaintsACropAndPastesItIntoThePictureAtItsOwnSize() {
        RgbImage picture = picture(160, 96), mask = box(160, 96, 100, 40, 116, 56);
        int blur = 2;
        GeneratedImage g = run(request(picture, mask, 0.75, MaskedContent.ORIGINAL, true, 8, blur, true, 64, 64));
        assertThat(g.width()).isEqualTo(160);
        assertThat(g.height()).isEqualTo(96);
        byte[] blurred = Masks.blur(mask.luminance(), 160, 96, blur);
        int changed = 0;
        for (int p = 0; p < blurred.length; p++) {
            for (int c = 0; c < 3; c++) {
                int got = g.rgb()[3 * p + c] & 0xff, was = picture.rgb()[3 * p + c] & 0xff;
                if (blurred[p] == 0) assertThat(got).as("pixel %d outside the blurred mask", p).isEqualTo(was);
                else if ((blurred[p] & 0xff) == 255 && got != was) changed++;
            }
        }
        assertThat(changed).as("values changed under the mask").isGreaterThan(100);
        Map<String, String> info = Infotext.parse(g.infotext()).parameters();
        assertThat(info).containsEntry("Inpaint area", "Only masked").containsEntry("Masked area padding", "8")
                .containsEntry("Size", "64x64").containsEntry("Mask blur", "2");
    }

    /** A box that is the whole picture at the output size: the same run as inpainting the whole picture. */
    @Test
    void onlyMaskedOverTheWholePictureIsTheWholePictureRun() {
        RgbImage picture = picture(64, 64), mask = box(64, 64, 8, 16, 32, 48);
        GeneratedImage whole = run(request(picture, mask, 0.6, MaskedContent.LATENT_NOTHING, false, 0, 0, false, 64, 64));
        GeneratedImage only = run(request(picture, mask, 0.6, MaskedContent.LATENT_NOTHING, true, 64, 0, false, 64, 64));
        ImageDelta d = ImageDelta.between(only.rgb(), whole.rgb());
        assertThat(d.max()).as(d.toString()).isZero();
    }

    @Test
    void onlyMaskedNeedsSomethingMasked() {
        RgbImage picture = picture(64, 64), blank = box(64, 64, 0, 0, 0, 0);
        assertThatThrownBy(() -> request(picture, blank, 0.6, MaskedContent.ORIGINAL, true, 32, 4, true, 64, 64).validate())
                .isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--mask: nothing is masked");
        assertThatThrownBy(() -> request(picture, box(64, 64, 0, 0, 8, 8), 0.6, MaskedContent.ORIGINAL, true, -1, 4, true,
                64, 64).validate()).isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--only-masked-padding");
    }

    @Test
    void maskedContentNumbersAndNamesAreA1111s() {
        assertThat(MaskedContent.ofA1111(0)).isEqualTo(MaskedContent.FILL);
        assertThat(MaskedContent.ofA1111(1)).isEqualTo(MaskedContent.ORIGINAL);
        assertThat(MaskedContent.ofA1111(2).label()).isEqualTo("latent noise");
        assertThat(MaskedContent.ofA1111(3).label()).isEqualTo("latent nothing");
        assertThat(MaskedContent.parse("latent-noise")).isEqualTo(MaskedContent.LATENT_NOISE);
        assertThatThrownBy(() -> MaskedContent.ofA1111(4)).isInstanceOf(JDiffusionException.class);
    }
}
