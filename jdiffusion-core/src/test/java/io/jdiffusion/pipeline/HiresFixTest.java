package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The hires fix on the tiny SD 1.5 model: size, determinism, its passes, its infotext, what low denoising keeps. */
class HiresFixTest {
    private static Path model;
    private static LoadedModel loaded;

    @BeforeAll
    static void load() {
        model = Fixtures.require("tiny-sd15.safetensors");
        loaded = new LoadedModel(ModelLoader.load(model, null));
    }

    private static Txt2ImgRequest base(int steps) {
        return new Txt2ImgRequest(model, null, "a photograph of an astronaut riding a horse", "blurry", "euler_a",
                steps, 7.5, 4321, 40, 32, 1, 1, null, false);
    }

    @Test
    void bothUpscalersGiveTwiceTheSizeAndTheSameBytesForASeed() {
        for (HiresFix.Upscaler upscaler : HiresFix.Upscaler.values()) {
            HiresFix hires = new HiresFix(2, 2, 0.5, upscaler);
            GeneratedImage first = Txt2Img.run(loaded, base(3), hires, StepListener.NONE).getFirst();
            GeneratedImage second = Txt2Img.run(loaded, base(3), hires, StepListener.NONE).getFirst();
            assertThat(first.width()).as(upscaler.name()).isEqualTo(80);
            assertThat(first.height()).as(upscaler.name()).isEqualTo(64);
            assertThat(second.rgb()).as(upscaler.name()).isEqualTo(first.rgb());
        }
    }

    @Test
    void theUpscalersAndTheSeedChangeTheImage() {
        byte[] latent = Txt2Img.run(loaded, base(3), new HiresFix(2, 2, 0.5, HiresFix.Upscaler.LATENT), null).getFirst().rgb();
        byte[] lanczos = Txt2Img.run(loaded, base(3), new HiresFix(2, 2, 0.5, HiresFix.Upscaler.LANCZOS), null).getFirst().rgb();
        Txt2ImgRequest otherSeed = new Txt2ImgRequest(model, null, "a photograph of an astronaut riding a horse", "blurry",
                "euler_a", 3, 7.5, 4322, 40, 32, 1, 1, null, false);
        byte[] seed2 = Txt2Img.run(loaded, otherSeed, new HiresFix(2, 2, 0.5, HiresFix.Upscaler.LATENT), null).getFirst().rgb();
        assertThat(lanczos).isNotEqualTo(latent);
        assertThat(seed2).isNotEqualTo(latent);
    }

    @Test
    void theFirstPassIsPlainTxt2ImgAndTheListenerCountsOnAcrossBothPasses() {
        List<Tensor> plain = new ArrayList<>();
        Txt2Img.run(loaded, base(3), (step, total, x) -> plain.add(x.copy()));
        List<int[]> seen = new ArrayList<>();
        List<Tensor> latents = new ArrayList<>();
        Txt2Img.run(loaded, base(3), new HiresFix(2, 2, 0.5, HiresFix.Upscaler.LATENT), (step, total, x) -> {
            seen.add(new int[]{step, total});
            latents.add(x.copy());
            return true;
        });
        assertThat(seen).extracting(s -> s[0]).containsExactly(1, 2, 3, 4, 5);
        assertThat(seen).extracting(s -> s[1]).containsOnly(5);
        for (int i = 0; i < 3; i++) assertThat(latents.get(i).data).isEqualTo(plain.get(i).data);
        assertThat(latents.get(3).shape).containsExactly(1, 4, 8, 10);
    }

    @Test
    void stoppingInTheFirstPassReturnsTheFirstPass() {
        byte[] plain = Txt2Img.run(loaded, base(2), StepListener.NONE).getFirst().rgb();
        GeneratedImage stopped = Txt2Img.run(loaded, base(3), new HiresFix(2, 2, 0.5, HiresFix.Upscaler.LATENT),
                (step, total, x) -> step < 2).getFirst();
        assertThat(stopped.width()).isEqualTo(40);
        assertThat(stopped.rgb()).hasSize(plain.length);
    }

    @Test
    void theInfotextHasTheBaseSizeAndA1111sHiresKeys() {
        Infotext text = Infotext.parse(Txt2Img.run(loaded, base(3), new HiresFix(2, 2, 0.5, HiresFix.Upscaler.LANCZOS), null)
                .getFirst().infotext());
        assertThat(text.get("Size")).isEqualTo("40x32");
        assertThat(text.get("Steps")).isEqualTo("3");
        assertThat(text.get("Denoising strength")).isEqualTo("0.5");
        assertThat(text.get("Hires upscale")).isEqualTo("2");
        assertThat(text.get("Hires steps")).isEqualTo("2");
        assertThat(text.get("Hires upscaler")).isEqualTo("Lanczos");
        List<String> keys = List.copyOf(text.parameters().keySet());
        assertThat(keys.indexOf("Hires upscale")).isLessThan(keys.indexOf("Hires steps"));
        assertThat(keys.indexOf("Hires upscaler")).isLessThan(keys.indexOf("Version"));

        Infotext sameSteps = Infotext.parse(Txt2Img.run(loaded, base(2), new HiresFix(1.5, 0, 0.7, HiresFix.Upscaler.LATENT), null)
                .getFirst().infotext());
        assertThat(sameSteps.get("Hires steps")).isNull(); // 0 = as the first pass: A1111 leaves it out
        assertThat(sameSteps.get("Hires upscale")).isEqualTo("1.5");
        assertThat(sameSteps.get("Hires upscaler")).isEqualTo("Latent");
    }

    /**
     * With a low denoising strength the hires pass only touches up the upscaled first pass; with strength 1 it
     * repaints from noise. So its final latents are much nearer the upscaled first pass's latents at 0.02 than at
     * 1 (compared as latents: the tiny model's untrained VAE encodes to latents of spread ~0.2 whose decoding
     * swings by tens of levels for any small change, so pixels would measure the VAE, not the hires pass).
     */
    @Test
    void lowDenoisingKeepsTheUpscaledFirstPass() {
        Tensor lowres = lastLatents(base(3), null);
        for (HiresFix.Upscaler upscaler : HiresFix.Upscaler.values()) {
            Tensor upscaled = switch (upscaler) {
                case LATENT -> HiresFix.upscaleLatents(lowres, 8, 10);
                case LANCZOS -> loaded.encodeImage(HiresFix.lanczosUpscaled(loaded, lowres, 80, 64), new TorchCpuRandom(4321));
            };
            Tensor gentle = lastLatents(base(3), new HiresFix(2, 1, 0.02, upscaler));
            Tensor repaint = lastLatents(base(3), new HiresFix(2, 3, 1.0, upscaler));
            double near = Fixtures.relativeError(gentle.data, upscaled.data), far = Fixtures.relativeError(repaint.data, upscaled.data);
            System.out.printf("%s: |final - upscaled first pass| / |upscaled|: denoise 0.02 -> %.4f, denoise 1 -> %.4f%n", upscaler, near, far);
            assertThat(near).as(upscaler.name()).isLessThan(far / 4);
        }
        // and in pixels for the latent upscaler, whose latents have the sampler's spread
        byte[] reference = LoadedModel.toRgb8(loaded.decode(HiresFix.upscaleLatents(lowres, 8, 10)))[0];
        byte[] gentle = Txt2Img.run(loaded, base(3), new HiresFix(2, 1, 0.02, HiresFix.Upscaler.LATENT), null).getFirst().rgb();
        assertThat(meanAbsDiff(gentle, reference)).isLessThan(1.0);
    }

    @Test
    void latentUpscaleIsTorchsBilinearWithoutAlignedCorners() {
        // a 1x2 row doubled: the output centres fall at -0.25 (clamped to 0), 0.25, 0.75 and 1.25 (clamped to the edge)
        Tensor x = new Tensor(new float[]{1f, 5f}, 1, 1, 1, 2);
        Tensor up = HiresFix.upscaleLatents(x, 2, 4);
        assertThat(up.shape).containsExactly(1, 1, 2, 4);
        assertThat(up.data).containsExactly(1f, 2f, 4f, 5f, 1f, 2f, 4f, 5f);
    }

    @Test
    void badValuesNameTheirFlag() {
        Txt2ImgRequest big = new Txt2ImgRequest(model, null, "x", "", "euler", 3, 7.5, 1, 2048, 2048, 1, 1, null, false);
        assertThatThrownBy(() -> new HiresFix(4, 0, 0.5, HiresFix.Upscaler.LATENT).validate(big))
                .isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--hires-scale: 4 makes 2048x2048 into 8192x8192");
        assertThatThrownBy(() -> new HiresFix(0.5, 0, 0.5, HiresFix.Upscaler.LATENT).validate(base(3)))
                .hasMessageStartingWith("--hires-scale:");
        assertThatThrownBy(() -> new HiresFix(2, -1, 0.5, HiresFix.Upscaler.LATENT).validate(base(3)))
                .hasMessageStartingWith("--hires-steps:");
        assertThatThrownBy(() -> new HiresFix(2, 0, 0, HiresFix.Upscaler.LATENT).validate(base(3)))
                .hasMessageStartingWith("--hires-denoise:");
        assertThatThrownBy(() -> new HiresFix(2, 20, 0.001, HiresFix.Upscaler.LATENT).validate(base(3)))
                .hasMessageStartingWith("--hires-denoise: 0.001 with 20 hires steps needs a schedule of 20000 steps");
        assertThatThrownBy(() -> HiresFix.Upscaler.parse("esrgan")).hasMessageStartingWith("--hires-upscaler: 'esrgan'");
        assertThat(HiresFix.Upscaler.parse("Lanczos")).isEqualTo(HiresFix.Upscaler.LANCZOS);
    }

    @Test
    void theScheduleFollowsA1111sStepCount() {
        HiresFix hires = new HiresFix(2, 10, 0.5, HiresFix.Upscaler.LATENT);
        assertThat(hires.scheduleSteps(30)).isEqualTo(20);
        assertThat(new HiresFix(2, 0, 0.7, HiresFix.Upscaler.LATENT).scheduleSteps(20)).isEqualTo(28); // 20 / 0.7 = 28.57
        assertThat(new HiresFix(2, 0, 1.0, HiresFix.Upscaler.LATENT).scheduleSteps(20)).isEqualTo(20); // 20 / 0.999
        assertThat(new HiresFix(1.5, 0, 1.0, HiresFix.Upscaler.LATENT).targetWidth(100)).isEqualTo(144); // 150 rounded down to 8s
    }

    /** The latents after the last step of the request, with the hires fix or without (null). */
    private static Tensor lastLatents(Txt2ImgRequest request, HiresFix hires) {
        Tensor[] last = new Tensor[1];
        Txt2Img.run(loaded, request, hires, (step, total, x) -> {
            last[0] = x.copy();
            return true;
        });
        return last[0];
    }

    private static double meanAbsDiff(byte[] a, byte[] b) {
        assertThat(a).hasSameSizeAs(b);
        long sum = 0;
        for (int i = 0; i < a.length; i++) sum += Math.abs((a[i] & 0xff) - (b[i] & 0xff));
        return (double) sum / a.length;
    }
}
