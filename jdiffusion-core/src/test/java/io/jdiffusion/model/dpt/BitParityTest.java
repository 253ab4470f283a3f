package io.jdiffusion.model.dpt;

import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.Json;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The BiT backbone alone against transformers' BitBackbone under both padding options, on an odd-sized input
 * (generated/tiny-bit-paddings; DPT-Hybrid's own configuration is also covered end to end by DptHybridParityTest).
 */
class BitParityTest {

    @ParameterizedTest
    @ValueSource(strings = {"same", "symmetric"})
    void featureMapsMatchTransformers(String variant) {
        Path dir = Generated.dir("tiny-bit-paddings");
        BitConfig config = BitConfig.parse(Json.read(dir.resolve(variant + ".json")), variant);
        assertThat(config.padding()).isEqualTo(variant.equals("same") ? BitConfig.Padding.SAME : BitConfig.Padding.SYMMETRIC);
        assertThat(config.featureStages()).containsExactly(0, 1, 2, 3);
        SafeTensors file = SafeTensors.open(dir.resolve(variant + ".safetensors"));
        Bit bit = new Bit(config, new Weights(file.tensors(), file.toString()).sub("bit"));
        List<Tensor> maps = bit.featureMaps(Fixtures.tensor(file, "pixel_values"));
        assertThat(maps).hasSize(4);
        for (int i = 0; i < maps.size(); i++) {
            Tensor expected = Fixtures.tensor(file, "feature_maps_" + i);
            assertThat(maps.get(i).shape).as("%s feature map %d", variant, i).containsExactly(expected.shape);
            double err = Fixtures.relativeError(maps.get(i).data, expected.data);
            assertThat(err).as("%s feature map %d relative error", variant, i).isLessThanOrEqualTo(1e-4);
        }
    }
}
