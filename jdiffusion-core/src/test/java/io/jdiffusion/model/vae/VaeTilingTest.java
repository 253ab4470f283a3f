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

    /**
     * One tile is the untiled decode: the same calls on the same data. Not compared bit for bit, because the
     * vectorised kernels may round differently from one call to the next (summation order across threads,
     * code compiled in between); 1e-5 is far above float32 rounding of this network (about 1e-7 relative)
     * and far below any tiling effect (the cases below: 1e-1).
     */
    @Test
    void latentsThatFitOneTileDecodeAsUntiled() {
        Vae vae = tinySd15();
        Tensor z = new TorchCpuRandom(1).randn(1, 4, 12, 10);

        Tensor tiled = vae.decode(z, new VaeTiling(12, 4)), whole = vae.decode(z);

        assertThat(tiled.shape).containsExactly(whole.shape);
        assertThat(Fixtures.relativeError(tiled.data, whole.data)).isLessThanOrEqualTo(1e-5);
    }

    /**
     * Tiles see only their part of the image: each GroupNorm of the decoder's tail normalises with its tile's
     * statistics, and the convolutions near a tile's edge see zero padding instead of the neighbouring
     * features. So the tiled decode is close to, not equal to, the untiled one, and the tiny VAE is the
     * hardest case: its 32 groups over 32–64 channels give each group one or two channels of one tile to
     * take statistics from, and random weights vary more across an image than a trained VAE's features do.
     * What tiling must achieve, each checked here on 24×24 latents (192² pixels):
     * <ul>
     * <li>no seams: the difference from the untiled image changes across the columns where a tile starts
     *     or ends no faster than it does elsewhere (measured: at most 1.6× its mean column-to-column step;
     *     tiles that merely abut step by 4.7× at their border);</li>
     * <li>the error shrinks as the tiles grow towards the whole image;</li>
     * <li>the error stays at the level the per-tile statistics explain: measured 0.18 relative for
     *     16-pixel tiles with an overlap of 8 (half the latents per tile side), bounded here by 0.25; tiles
     *     that abut without overlap, which keep every seam, measure 0.34.</li>
     * </ul>
     */
    @Test
    void tiledDecodeIsCloseToTheUntiledOneWithoutSeams() {
        Vae vae = tinySd15();
        Tensor z = new TorchCpuRandom(2).randn(1, 4, 24, 24);

        Tensor whole = vae.decode(z);
        VaeTiling half = new VaeTiling(16, 8), large = new VaeTiling(20, 8), abuttingTiles = new VaeTiling(12, 0);
        Tensor blended = vae.decode(z, half);
        Tensor larger = vae.decode(z, large);
        Tensor abutting = vae.decode(z, abuttingTiles);

        assertThat(blended.shape).containsExactly(whole.shape);
        // tiles at latent columns 0..16 and 8..24: tile borders at pixel columns 64 and 128
        assertThat(half.starts(24)).containsExactly(0, 8);
        Tensor blendedDiff = difference(blended, whole), abuttingDiff = difference(abutting, whole);
        for (int column : new int[]{64, 128}) {
            assertThat(step(blendedDiff, column)).as("step at column %d", column).isLessThanOrEqualTo(2 * meanStep(blendedDiff));
        }
        assertThat(abuttingTiles.starts(24)).containsExactly(0, 12);
        assertThat(step(abuttingDiff, 96)).as("abutting tiles leave a seam").isGreaterThan(3 * meanStep(abuttingDiff));

        double blendedError = Fixtures.relativeError(blended.data, whole.data);
        double largerError = Fixtures.relativeError(larger.data, whole.data);
        double abuttingError = Fixtures.relativeError(abutting.data, whole.data);
        assertThat(largerError).isLessThan(blendedError);
        assertThat(blendedError).isLessThan(abuttingError).isLessThanOrEqualTo(0.25);
    }

    private static Tensor difference(Tensor a, Tensor b) {
        float[] d = new float[a.numel()];
        for (int i = 0; i < d.length; i++) d[i] = a.data[i] - b.data[i];
        return new Tensor(d, a.shape);
    }

    /** The mean of {@link #step} over every column. */
    private static double meanStep(Tensor image) {
        double sum = 0;
        for (int x = 1; x < image.dim(3); x++) sum += step(image, x);
        return sum / (image.dim(3) - 1);
    }

    /** Mean |image[x] − image[x − 1]| over all rows and channels: how much the image steps at a column. */
    private static double step(Tensor image, int x) {
        int channels = image.dim(1), h = image.dim(2), w = image.dim(3);
        double sum = 0;
        for (int c = 0; c < channels; c++) {
            for (int y = 0; y < h; y++) {
                int row = (c * h + y) * w;
                sum += Math.abs(image.data[row + x] - image.data[row + x - 1]);
            }
        }
        return sum / (channels * h);
    }
}
