package io.jdiffusion.model.vae;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VaeTilingTest {

    private static Vae tinySd15() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        return new Vae(model.vaeConfig(), model.vae());
    }

    @Test
    void tilesCoverTheAxisEvenlyWithAtLeastTheOverlap() {
        VaeTiling t = new VaeTiling(32, 8);
        for (int size = 1; size <= 200; size++) {
            int[] starts = t.starts(size);
            int length = Math.min(size, 32);
            assertThat(starts[0]).isZero();
            assertThat(starts[starts.length - 1] + length).as("size %d", size).isEqualTo(size);
            for (int i = 1; i < starts.length; i++) {
                assertThat(starts[i - 1] + length - starts[i]).as("overlap at size %d", size).isGreaterThanOrEqualTo(8);
            }
        }
        assertThat(t.starts(64)).containsExactly(0, 16, 32);
    }

    @Test
    void feathersCrossFade() {
        int[] starts = {0, 16};
        float[] first = VaeTiling.feather(starts, 0, 32, 48), second = VaeTiling.feather(starts, 1, 32, 48);
        for (int p = 0; p < 16; p++) assertThat(first[p]).isEqualTo(1f);
        for (int p = 16; p < 32; p++) {
            assertThat(first[p] + second[p - 16]).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-6f));
            assertThat(first[p]).isPositive().isLessThan(1f);
        }
        for (int p = 16; p < 32; p++) assertThat(second[p]).isEqualTo(1f);
    }

    @Test
    void badSettingsAreRefused() {
        assertThatThrownBy(() -> new VaeTiling(0, 0)).isInstanceOf(JDiffusionException.class);
        assertThatThrownBy(() -> new VaeTiling(16, 9)).isInstanceOf(JDiffusionException.class).hasMessageContaining("overlap");
    }

    @Test
    void latentsThatFitOneTileDecodeExactlyAsUntiled() {
        Vae vae = tinySd15();
        Tensor z = new TorchCpuRandom(1).randn(1, 4, 12, 10);

        assertThat(vae.decode(z, new VaeTiling(12, 4)).data).containsExactly(vae.decode(z).data);
    }

    /**
     * Tiles see only their part of the image: each GroupNorm normalises with the tile's statistics, and the
     * convolutions near a tile's edge see zero padding instead of the neighbouring latents. So the tiled
     * decode is close to, not equal to, the untiled one. What the overlap and the cross-fade must achieve:
     * the difference is small against the image, and clearly smaller than cutting the same latents into
     * tiles that merely abut (no overlap, no blending), which shows the seams.
     */
    @Test
    void tiledDecodeIsCloseToTheUntiledOneAndBetterThanAbuttingTiles() {
        Vae vae = tinySd15();
        Tensor z = new TorchCpuRandom(2).randn(1, 4, 24, 24);

        Tensor whole = vae.decode(z);
        Tensor blended = vae.decode(z, new VaeTiling(16, 8));
        Tensor abutting = vae.decode(z, new VaeTiling(12, 0));

        double blendedError = Fixtures.relativeError(blended.data, whole.data);
        double abuttingError = Fixtures.relativeError(abutting.data, whole.data);
        System.out.printf("tiled VAE decode, relative error: blended %.4f, abutting %.4f%n", blendedError, abuttingError);
        assertThat(blended.shape).containsExactly(whole.shape);
        assertThat(blendedError).isLessThan(abuttingError);
        assertThat(blendedError).isLessThanOrEqualTo(0.05);
    }
}
