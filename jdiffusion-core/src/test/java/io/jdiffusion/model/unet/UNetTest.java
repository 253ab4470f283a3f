package io.jdiffusion.model.unet;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.Json;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.UNetConfig;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class UNetTest {

    @Test
    void matchesDiffusersOnTinySd15() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        Fixtures.UNetCall ref = Fixtures.tinySd15UNetCall();

        Tensor out = new UNet(model.unetConfig(), model.unet()).forward(ref.sample(), ref.timestep(), ref.encoderHiddenStates());

        assertThat(out.shape).containsExactly(ref.out().shape);
        assertThat(Fixtures.relativeError(out.data, ref.out().data)).isLessThanOrEqualTo(1e-4);
    }

    /**
     * Cross-attention keeps the key/value projections of the last context: a second context must replace
     * them, and going back to the first must give the first result again, as fresh networks do.
     */
    @Test
    void crossAttentionProjectionsFollowTheContext() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        UNet unet = new UNet(model.unetConfig(), model.unet());
        Tensor sample = gaussian(11, 1, 4, 8, 8);
        Tensor first = gaussian(12, 1, 77, 64), second = gaussian(13, 1, 77, 64);

        Tensor a = unet.forward(sample, 500, first);
        Tensor b = unet.forward(sample, 500, second);
        Tensor again = unet.forward(sample, 500, first);

        Tensor freshB = new UNet(model.unetConfig(), model.unet()).forward(sample, 500, second);
        assertThat(b.data).containsExactly(freshB.data);
        assertThat(again.data).containsExactly(a.data);
        assertThat(Fixtures.relativeError(b.data, a.data)).isGreaterThan(1e-3);
    }

    /** SD 2.x layouts (linear projections, per-block head lists; the depth model's 5 input channels). */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-sd21-v", "tiny-sd2-depth"})
    void runsSd2UNets(String folder) {
        Path dir = Fixtures.require(folder + "/unet");
        UNetConfig config = UNetConfig.fromDiffusers(Json.read(dir.resolve("config.json")));
        assertThat(config.useLinearProjection()).isTrue();
        UNet unet = new UNet(config, folderWeights(dir));
        Tensor sample = gaussian(1, 2, config.inChannels(), 8, 8);
        Tensor context = gaussian(2, 2, 77, config.crossAttentionDim());

        Tensor out = unet.forward(sample, 749.25, context);

        assertThat(out.shape).containsExactly(2, config.outChannels(), 8, 8);
        assertAllFinite(out);
        // the text conditioning must reach the output through the cross-attention
        Tensor other = unet.forward(sample, 749.25, gaussian(3, 2, 77, config.crossAttentionDim()));
        assertThat(Fixtures.relativeError(other.data, out.data)).isGreaterThan(1e-3);
    }

    @Test
    void latentSizesThatDoNotHalveEvenlyKeepTheirSize() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        UNet unet = new UNet(model.unetConfig(), model.unet());
        Tensor out = unet.forward(gaussian(4, 1, 4, 9, 11), 500, gaussian(5, 1, 77, 64));
        assertThat(out.shape).containsExactly(1, 4, 9, 11);
        assertAllFinite(out);
    }

    @Test
    void runsTinySdxlWithAddedConditioning() {
        Path dir = Fixtures.require("tiny-sdxl/unet");
        UNetConfig config = UNetConfig.fromDiffusers(Json.read(dir.resolve("config.json")));
        UNet unet = new UNet(config, folderWeights(dir));
        assertThat(unet.needsAddedConditioning()).isTrue();
        int ids = 6;
        int pooled = config.projectionClassEmbeddingsInputDim() - ids * config.additionTimeEmbedDim();
        Tensor sample = gaussian(6, 1, 4, 8, 8);
        Tensor context = gaussian(7, 1, 77, config.crossAttentionDim());
        Tensor textEmbeds = gaussian(8, 1, pooled);
        Tensor timeIds = new Tensor(new float[]{64, 64, 0, 0, 64, 64}, 1, ids);

        Tensor out = unet.forward(sample, 999, context, new UNet.AddedConditioning(textEmbeds, timeIds));

        assertThat(out.shape).containsExactly(1, 4, 8, 8);
        assertAllFinite(out);
        Tensor otherSize = unet.forward(sample, 999, context,
                new UNet.AddedConditioning(textEmbeds, new Tensor(new float[]{128, 128, 0, 0, 64, 64}, 1, ids)));
        assertThat(Fixtures.relativeError(otherSize.data, out.data)).isGreaterThan(1e-4);
        assertThatThrownBy(() -> unet.forward(sample, 999, context)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void missingTensorFailsAtLoadNamingIt() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        String name = "up_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.weight";
        Map<String, Weight> all = all(model.unet());
        assertThat(all.remove(name)).isNotNull();

        assertThatThrownBy(() -> new UNet(model.unetConfig(), new Weights(all, "broken.safetensors")))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining(name);
    }

    @Test
    void wrongShapedTensorFailsAtLoadNamingIt() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        String name = "mid_block.resnets.1.time_emb_proj.weight";
        Map<String, Weight> all = all(model.unet());
        Weight original = all.get(name);
        all.put(name, original.sliceRows(name, 0, original.dim(0) - 1));

        assertThatThrownBy(() -> new UNet(model.unetConfig(), new Weights(all, "broken.safetensors")))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining(name)
                .hasMessageContaining("broken.safetensors");
    }

    private static Weights folderWeights(Path unetDir) {
        Path file = unetDir.resolve("diffusion_pytorch_model.safetensors");
        return new Weights(SafeTensors.open(file).tensors(), file.toString());
    }

    private static Map<String, Weight> all(Weights weights) {
        Map<String, Weight> m = new HashMap<>();
        for (String n : weights.names()) m.put(n, weights.get(n));
        return m;
    }

    static Tensor gaussian(long seed, int... shape) {
        Random r = new Random(seed);
        float[] d = new float[Tensor.numel(shape)];
        for (int i = 0; i < d.length; i++) d[i] = (float) r.nextGaussian();
        return new Tensor(d, shape);
    }

    static void assertAllFinite(Tensor t) {
        for (float v : t.data) assertThat(Float.isFinite(v)).as("finite output").isTrue();
    }
}
