package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.ModelFamily;
import io.jdiffusion.model.TaesdLoader;
import io.jdiffusion.model.vae.Taesd;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LatentPreviewTest {
    /** The rows of A1111's published "Approx cheap" mixes for latent channel 3 (SD 1.x/2.x, then SDXL). */
    private static final double[] SD_CHANNEL3 = {-0.184, -0.271, -0.473};
    private static final double[] SDXL_CHANNEL3 = {-0.3730, -0.2499, -0.2088};

    /** One pixel whose latent is 1 in channel 3 and 0 elsewhere (spread below 1, so not rescaled). */
    private static Tensor unitInChannel3() {
        return new Tensor(new float[]{0, 0, 0, 1}, 1, 4, 1, 1);
    }

    @Test
    void eachFamilyMixesTheChannelsWithItsPublishedCoefficients() {
        RgbImage sd = LatentPreview.rgb(unitInChannel3(), 0, ModelFamily.SD1);
        RgbImage sdxl = LatentPreview.rgb(unitInChannel3(), 0, ModelFamily.SDXL);
        for (int c = 0; c < 3; c++) {
            assertThat(sd.get(0, 0, c)).isEqualTo((int) Math.round((SD_CHANNEL3[c] + 1) * 127.5));
            assertThat(sdxl.get(0, 0, c)).isEqualTo((int) Math.round((SDXL_CHANNEL3[c] + 1) * 127.5));
        }
        assertThat(LatentPreview.rgb(unitInChannel3(), 0, null).rgb()).isEqualTo(sd.rgb());
        assertThat(LatentPreview.rgb(unitInChannel3(), 0, ModelFamily.SD2).rgb()).isEqualTo(sd.rgb());
    }

    @Test
    void noisyLatentsShowStructureInsteadOfSaturating() {
        Tensor noisy = new TorchCpuRandom(7).randn(1, 4, 32, 32);
        for (int i = 0; i < noisy.data.length; i++) noisy.data[i] *= 14.6f; // the first step's noise level
        byte[] rgb = LatentPreview.rgb(noisy, 0, ModelFamily.SD1).rgb();
        int clipped = 0;
        for (byte b : rgb) if ((b & 0xff) == 0 || (b & 0xff) == 255) clipped++;
        // unscaled, ~90% of the values would clip (spread ~9 after the mix); scaled to unit spread, only the tails do
        assertThat((double) clipped / rgb.length).isLessThan(0.1);
    }

    @Test
    void picksTheImageOfTheBatch() {
        Tensor batch = Tensor.cat0(new Tensor(new float[4], 1, 4, 1, 1), unitInChannel3());
        assertThat(LatentPreview.rgb(batch, 1, ModelFamily.SD1).rgb()).isEqualTo(LatentPreview.rgb(unitInChannel3(), 0, ModelFamily.SD1).rgb());
        assertThat(LatentPreview.rgb(batch, 0, ModelFamily.SD1).rgb()).isNotEqualTo(LatentPreview.rgb(unitInChannel3(), 0, ModelFamily.SD1).rgb());
    }

    @Test
    void theWriterWritesEveryNthStepAndTheLast(@TempDir Path dir) {
        Path file = dir.resolve("preview.png");
        StepListener writer = LatentPreview.writer(file, 2, ModelFamily.SD1);
        Tensor latents = new TorchCpuRandom(1).randn(1, 4, 6, 5);
        assertThat(writer.onStep(1, 5, latents)).isTrue();
        assertThat(file).doesNotExist();
        writer.onStep(2, 5, latents);
        Png.Image png = Png.read(file);
        assertThat(png.width()).isEqualTo(5);
        assertThat(png.height()).isEqualTo(6);
        assertThat(png.rgb()).isEqualTo(LatentPreview.rgb(latents, 0, ModelFamily.SD1).rgb());

        Tensor last = new TorchCpuRandom(2).randn(1, 4, 6, 5);
        writer.onStep(5, 5, last);
        assertThat(Png.read(file).rgb()).isEqualTo(LatentPreview.rgb(last, 0, ModelFamily.SD1).rgb());
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(file); // no temporary files left behind
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        assertThatThrownBy(() -> LatentPreview.writer(file, 0, null)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("--preview-every: 0");
    }

    @Test
    void taesdPreviewIsTheTaesdsPictureAtFullSize(@TempDir Path dir) {
        SafeTensors ref = SafeTensors.open(Generated.require("taesd/io.safetensors"));
        Taesd taesd = TaesdLoader.load(Generated.require("taesd/tiny-taesd"));
        Tensor quiet = Fixtures.tensor(ref, "quiet_latents"); // spread below 1: decoded as they are
        byte[] expected = LoadedModel.toRgb8(Fixtures.tensor(ref, "quiet_decoded"))[0];

        RgbImage preview = LatentPreview.taesdRgb(quiet, 0, taesd);

        assertThat(preview.width()).isEqualTo(quiet.dim(3) * 8);
        assertThat(preview.height()).isEqualTo(quiet.dim(2) * 8);
        assertThat(maxDelta(preview.rgb(), expected)).isLessThanOrEqualTo(1);

        Path file = dir.resolve("preview.png");
        StepListener writer = LatentPreview.taesdWriter(file, 2, taesd);
        writer.onStep(1, 3, quiet);
        assertThat(file).doesNotExist();
        writer.onStep(2, 3, quiet);
        Png.Image written = Png.read(file);
        assertThat(written.width()).isEqualTo(preview.width());
        assertThat(written.rgb()).isEqualTo(preview.rgb());
    }

    @Test
    void noisyLatentsAreTamedBeforeTheTaesdDecodesThem() {
        Taesd taesd = TaesdLoader.load(Generated.require("taesd/tiny-taesd"));
        Tensor quiet = Fixtures.tensor(SafeTensors.open(Generated.require("taesd/io.safetensors")), "quiet_latents");
        Tensor loud = quiet.copy();
        for (int i = 0; i < loud.data.length; i++) loud.data[i] *= 40f; // spread far above 1, as in the first steps

        byte[] tamed = LatentPreview.taesdRgb(loud, 0, taesd).rgb(), expected = LatentPreview.taesdRgb(scaledToUnitSpread(loud), 0, taesd).rgb();
        assertThat(maxDelta(tamed, expected)).isLessThanOrEqualTo(1); // float rounding of the scale apart
    }

    private static int maxDelta(byte[] a, byte[] b) {
        int worst = 0;
        for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] & 0xff) - (b[i] & 0xff)));
        return worst;
    }

    private static Tensor scaledToUnitSpread(Tensor t) {
        double sum = 0, sumSq = 0;
        for (float v : t.data) {
            sum += v;
            sumSq += (double) v * v;
        }
        double mean = sum / t.data.length, std = Math.sqrt(sumSq / t.data.length - mean * mean);
        Tensor out = t.copy();
        for (int i = 0; i < out.data.length; i++) out.data[i] = (float) (out.data[i] / std);
        return out;
    }
}
