package io.jdiffusion.model.vae;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VaeTest {

    private static Vae tinySd15() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        return new Vae(model.vaeConfig(), model.vae());
    }

    @Test
    void decodeMatchesDiffusers() {
        SafeTensors ref = Fixtures.tensors("tiny-sd15-ref/vae.safetensors");
        Tensor expected = Fixtures.tensor(ref, "decoded");

        Tensor decoded = tinySd15().decode(Fixtures.tensor(ref, "z"));

        assertThat(decoded.shape).containsExactly(expected.shape);
        assertThat(Fixtures.relativeError(decoded.data, expected.data)).isLessThanOrEqualTo(1e-4);
    }

    @Test
    void encodeMatchesDiffusers() {
        SafeTensors ref = Fixtures.tensors("tiny-sd15-ref/vae.safetensors");
        Tensor mean = Fixtures.tensor(ref, "enc_mean");
        Tensor std = Fixtures.tensor(ref, "enc_std");

        Vae.Posterior posterior = tinySd15().encode(Fixtures.tensor(ref, "image"));

        assertThat(posterior.mean().shape).containsExactly(mean.shape);
        assertThat(Fixtures.relativeError(posterior.mean().data, mean.data)).isLessThanOrEqualTo(1e-4);
        assertThat(Fixtures.relativeError(posterior.std().data, std.data)).isLessThanOrEqualTo(1e-4);
    }

    @Test
    void batchItemsAreDecodedIndependently() {
        SafeTensors ref = Fixtures.tensors("tiny-sd15-ref/vae.safetensors");
        Tensor z = Fixtures.tensor(ref, "z");
        Tensor expected = Fixtures.tensor(ref, "decoded");
        Tensor zeros = Tensor.zeros(z.shape);

        Tensor both = tinySd15().decode(Tensor.cat0(zeros, z));

        assertThat(both.shape).containsExactly(2, 3, expected.dim(2), expected.dim(3));
        assertThat(Fixtures.relativeError(both.slice0(1, 1).data, expected.data)).isLessThanOrEqualTo(1e-4);
    }

    @Test
    void posteriorSampleIsMeanPlusStdTimesNoise() {
        Tensor mean = new Tensor(new float[]{1f, -2f, 0.5f}, 1, 3, 1, 1);
        Tensor logvar = new Tensor(new float[]{0f, (float) Math.log(4), 100f}, 1, 3, 1, 1);
        Vae.Posterior p = new Vae.Posterior(mean, logvar);
        Tensor noise = new Tensor(new float[]{0.5f, 1f, 0f}, 1, 3, 1, 1);

        assertThat(p.sample(noise).data).containsExactly(new float[]{1.5f, 0f, 0.5f}, org.assertj.core.data.Offset.offset(1e-6f));
    }

    @Test
    void encodeClampsTheLogVariance() {
        SafeTensors ref = Fixtures.tensors("tiny-sd15-ref/vae.safetensors");
        Vae.Posterior posterior = tinySd15().encode(Fixtures.tensor(ref, "image"));
        for (float v : posterior.logvar().data) assertThat(v).isBetween(-30f, 20f);
    }

    @Test
    void acceptsAttentionProjectionsStoredAsOneByOneConvolutions() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        Map<String, Weight> all = new HashMap<>();
        for (String n : model.vae().names()) {
            Weight w = model.vae().get(n);
            boolean projection = n.contains("mid_block.attentions.0.to_") && n.endsWith(".weight");
            all.put(n, projection ? w.reshape(n, w.dim(0), w.dim(1), 1, 1) : w);
        }
        SafeTensors ref = Fixtures.tensors("tiny-sd15-ref/vae.safetensors");
        Tensor expected = Fixtures.tensor(ref, "decoded");

        Tensor decoded = new Vae(model.vaeConfig(), new Weights(all, "conv-layout")).decode(Fixtures.tensor(ref, "z"));

        assertThat(Fixtures.relativeError(decoded.data, expected.data)).isLessThanOrEqualTo(1e-4);
    }

    @Test
    void missingTensorFailsAtLoadNamingIt() {
        StableDiffusionModel model = ModelLoader.load(Fixtures.tinySd15());
        String name = "decoder.mid_block.attentions.0.to_v.bias";
        Map<String, Weight> all = new HashMap<>();
        for (String n : model.vae().names()) if (!n.equals(name)) all.put(n, model.vae().get(n));

        assertThatThrownBy(() -> new Vae(model.vaeConfig(), new Weights(all, "broken.safetensors")))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining(name);
    }
}
