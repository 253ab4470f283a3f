package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.watermark.DwtDctWatermark;
import io.jdiffusion.watermark.OutputWatermark;
import io.jdiffusion.watermark.WatermarkMessage;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the image pipelines do beyond the reference: sizes, the overlay, inpainting models in img2img, bad requests. */
class ImagePipelinesTest {

    private static Txt2ImgRequest params(Path model, int width, int height) {
        return new Txt2ImgRequest(model, null, "a photograph of an astronaut riding a horse", "blurry", "euler", 3,
                7.5, 21, width, height, 1, 1, null, false);
    }

    private static RgbImage init() {
        return RgbImage.read(Fixtures.require("tiny-sd15-ref/init.png"), "init");
    }

    private static RgbImage mask() {
        return RgbImage.read(Fixtures.require("tiny-sd15-ref/mask.png"), "mask");
    }

    private static LoadedModel tiny() {
        return new LoadedModel(ModelLoader.load(Fixtures.tinySd15(), null));
    }

    @Test
    void theOverlayKeepsEveryPixelOutsideTheBlurredMask() {
        int blur = 2;
        InpaintRequest request = new InpaintRequest(params(Fixtures.tinySd15(), 0, 0), init(), mask(), 1.0,
                ResizeMode.RESIZE, false, blur, true);
        GeneratedImage out = Inpaint.run(tiny(), request, StepListener.NONE).getFirst();
        byte[] m = mask().luminance();
        byte[] blurred = Masks.blur(m, 64, 64, blur);
        int kept = 0, repainted = 0;
        for (int p = 0; p < m.length; p++) {
            for (int c = 0; c < 3; c++) {
                int got = out.rgb()[3 * p + c] & 0xff, original = init().rgb()[3 * p + c] & 0xff;
                if (blurred[p] == 0) {
                    assertThat(got).as("pixel %d outside the blurred mask", p).isEqualTo(original);
                    kept++;
                } else if ((m[p] & 0xff) >= 128 && got != original) {
                    repainted++;
                }
            }
        }
        assertThat(kept).isPositive();
        assertThat(repainted).isPositive();
        assertThat(Infotext.parse(out.infotext()).get("Mask blur")).isEqualTo("2");
    }

    @Test
    void invertingTheMaskKeepsTheOtherPart() {
        InpaintRequest request = new InpaintRequest(params(Fixtures.tinySd15(), 0, 0), init(), mask(), 1.0,
                ResizeMode.RESIZE, true, 0, true);
        GeneratedImage out = Inpaint.run(tiny(), request, StepListener.NONE).getFirst();
        byte[] m = mask().luminance();
        for (int p = 0; p < m.length; p++) {
            if ((m[p] & 0xff) < 128) continue; // white in the mask = kept when inverted
            for (int c = 0; c < 3; c++) assertThat(out.rgb()[3 * p + c]).isEqualTo(init().rgb()[3 * p + c]);
        }
    }

    @Test
    void img2imgTakesTheGivenSizeAndTheResizeMode() {
        for (ResizeMode mode : ResizeMode.values()) {
            Img2ImgRequest request = new Img2ImgRequest(params(Fixtures.tinySd15(), 96, 64), init(), 0.6, mode);
            GeneratedImage out = Img2Img.run(tiny(), request, StepListener.NONE).getFirst();
            assertThat(out.width()).isEqualTo(96);
            assertThat(out.height()).isEqualTo(64);
            assertThat(Infotext.parse(out.infotext()).get("Denoising strength")).isEqualTo("0.6");
        }
    }

    @Test
    void outputSizeFollowsTheInitImage() {
        RgbImage odd = RgbImage.filled(100, 75, 1, 2, 3);
        assertThat(Img2ImgRequest.outputSize(0, 0, odd, "x")).containsExactly(96, 72);
        assertThat(Img2ImgRequest.outputSize(200, 0, odd, "x")).containsExactly(200, 144);
        assertThat(Img2ImgRequest.outputSize(0, 150, odd, "x")).containsExactly(200, 150);
        assertThatThrownBy(() -> Img2ImgRequest.outputSize(0, 0, RgbImage.filled(5, 80, 0, 0, 0), "--init-image"))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("5x80");
    }

    @Test
    void img2imgWithAnInpaintingModelRepaintsEverything() {
        Path model = Fixtures.require("tiny-sd15-inpainting.safetensors");
        Img2ImgRequest request = new Img2ImgRequest(params(model, 0, 0), init(), 0.7, ResizeMode.RESIZE);
        GeneratedImage out = Img2Img.run(new LoadedModel(ModelLoader.load(model, null)), request, StepListener.NONE).getFirst();
        assertThat(out.width()).isEqualTo(64);
        assertThat(out.rgb()).isNotEqualTo(init().rgb());
    }

    /** The same job with the watermark on or off. */
    private static Txt2ImgRequest watermarked(Txt2ImgRequest p, boolean watermark) {
        return new Txt2ImgRequest(p.model(), p.configDir(), p.prompt(), p.negativePrompt(), p.sampler(), p.steps(), p.cfgScale(),
                p.seed(), p.width(), p.height(), p.batchSize(), p.clipSkip(), p.predictionType(), watermark, p.sizeConditioning(),
                p.embeddings());
    }

    /**
     * A1111 runs txt2img on an inpainting model as inpainting everything over a mid-gray picture: the same
     * latents, mask and masked-image conditioning as the inpaint pipeline with a white mask at strength 1.
     */
    @Test
    void txt2imgWithAnInpaintingModelIsInpaintingAGrayPictureEverywhere() {
        Path model = Fixtures.require("tiny-sd15-inpainting.safetensors");
        LoadedModel inpainting = new LoadedModel(ModelLoader.load(model, null));
        Txt2ImgRequest params = params(model, 64, 48);
        GeneratedImage generated = Txt2Img.run(inpainting, params, StepListener.NONE).getFirst();
        RgbImage anything = init(), white = RgbImage.filled(64, 64, 255, 255, 255);
        GeneratedImage inpainted = Inpaint.run(inpainting, new InpaintRequest(params, anything, white, 1.0, ResizeMode.RESIZE,
                false, 0, false), StepListener.NONE).getFirst();
        assertThat(generated.width()).isEqualTo(64);
        assertThat(generated.height()).isEqualTo(48);
        assertThat(generated.rgb()).isEqualTo(inpainted.rgb());
    }

    @Test
    void txt2imgWithADepthModelSaysToUseDepth2img() {
        Path model = Fixtures.require("tiny-sd2-depth.safetensors");
        assertThatThrownBy(() -> Txt2Img.run(new LoadedModel(ModelLoader.load(model, null)), params(model, 64, 64), StepListener.NONE))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("tiny-sd2-depth.safetensors").hasMessageContaining("depth2img");
    }

    @Test
    void everyPipelineWatermarksWhatItGeneratedAndTheOverlayKeepsTheOriginal() {
        LoadedModel model = tiny();
        Txt2ImgRequest plain = watermarked(params(Fixtures.tinySd15(), 256, 256), false), marked = watermarked(plain, true);
        GeneratedImage img2img = Img2Img.run(model, new Img2ImgRequest(plain, init(), 0.5, ResizeMode.RESIZE), StepListener.NONE).getFirst();
        GeneratedImage img2imgMarked = Img2Img.run(model, new Img2ImgRequest(marked, init(), 0.5, ResizeMode.RESIZE), StepListener.NONE).getFirst();
        assertThat(img2imgMarked.rgb()).isEqualTo(DwtDctWatermark.encodeRgb8(img2img.rgb(), 256, 256, WatermarkMessage.STABLE_DIFFUSION_V1));
        assertThat(Infotext.parse(img2imgMarked.infotext()).get(OutputWatermark.INFOTEXT_KEY)).isEqualTo("StableDiffusionV1");
        assertThat(Infotext.parse(img2img.infotext()).parameters()).doesNotContainKey(OutputWatermark.INFOTEXT_KEY);

        // inpainting with the overlay: the generated part carries the mark, the pasted-back original is as it was
        RgbImage bigInit = ImageResize.resize(init(), 256, 256, ResizeMode.RESIZE);
        RgbImage bigMask = ImageResize.resize(mask(), 256, 256, ResizeMode.RESIZE);
        GeneratedImage inpaint = Inpaint.run(model, new InpaintRequest(marked, bigInit, bigMask, 1.0, ResizeMode.RESIZE, false, 0, true),
                StepListener.NONE).getFirst();
        assertThat(Infotext.parse(inpaint.infotext()).get(OutputWatermark.INFOTEXT_KEY)).isEqualTo("StableDiffusionV1");
        byte[] m = bigMask.luminance();
        for (int p = 0; p < m.length; p++) {
            if ((m[p] & 0xff) != 0) continue;
            for (int c = 0; c < 3; c++) assertThat(inpaint.rgb()[3 * p + c]).isEqualTo(bigInit.rgb()[3 * p + c]);
        }
    }

    @Test
    void badRequestsNameTheirFlag() {
        Txt2ImgRequest p = params(Path.of("m"), 0, 0);
        RgbImage init = init(), mask = mask(); // outside the lambdas: a missing fixture skips, it is not the error tested
        assertThatThrownBy(() -> new Img2ImgRequest(p, init, 1.01, ResizeMode.RESIZE).validate())
                .hasMessageStartingWith("--strength: 1.01 is outside (0, 1]");
        assertThatThrownBy(() -> new InpaintRequest(p, init, RgbImage.filled(64, 32, 0, 0, 0), 1, ResizeMode.RESIZE,
                false, 4, true).validate()).hasMessage("--mask: the mask is 64x32 but the init image is 64x64 (they must be the same size)");
        assertThatThrownBy(() -> new InpaintRequest(p, init, mask, 1, ResizeMode.RESIZE, false, -1, true).validate())
                .hasMessageStartingWith("--mask-blur: -1");
    }
}
