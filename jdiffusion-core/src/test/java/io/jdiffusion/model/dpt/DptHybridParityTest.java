package io.jdiffusion.model.dpt;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.pipeline.DepthMaps;
import io.jdiffusion.pipeline.RgbImage;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * DPT-Hybrid (BiT ResNet + ViT) against transformers on the generated tiny-dpt-hybrid model (see its README):
 * the BiT feature maps, the ViT hidden states and the depth for random pixel values, and the depth of a picture
 * through the folder's processor as depth2img estimates it.
 */
class DptHybridParityTest {

    private static SafeTensors reference() {
        return SafeTensors.open(Generated.dir("tiny-dpt-hybrid").resolve("reference.safetensors"));
    }

    private static void assertClose(Tensor actual, Tensor expected, String what) {
        assertThat(actual.shape).as("%s shape", what).containsExactly(expected.shape);
        double err = Fixtures.relativeError(actual.data, expected.data);
        assertThat(err).as("%s relative error", what).isLessThanOrEqualTo(1e-4);
    }

    @Test
    void configIsReadAsHybrid() {
        DptConfig config = DptConfig.read(Generated.dir("tiny-dpt-hybrid").resolve("config.json"));
        assertThat(config.hybrid()).isTrue();
        assertThat(config.backbone().depths()).containsExactly(3, 4, 9);
        assertThat(config.backbone().padding()).isEqualTo(BitConfig.Padding.SAME);
        assertThat(config.backbone().featureStages()).containsExactly(1, 2, 3);
        assertThat(config.neckIgnoreStages()).containsExactly(0, 1);
    }

    @Test
    void featureMapsHiddenStatesAndDepthMatchTransformers() {
        SafeTensors ref = reference();
        Dpt dpt = Dpt.load(Generated.dir("tiny-dpt-hybrid"));
        Dpt.Output out = dpt.forward(Fixtures.tensor(ref, "random_pixel_values"));
        assertThat(out.backboneFeatureMaps()).hasSize(3);
        for (int i = 0; i < 3; i++) {
            assertClose(out.backboneFeatureMaps().get(i), Fixtures.tensor(ref, "random_feature_maps_" + i), "BiT feature map " + i);
        }
        assertThat(out.hiddenStates()).hasSize(13);
        for (int i = 0; i < out.hiddenStates().size(); i++) {
            assertClose(out.hiddenStates().get(i), Fixtures.tensor(ref, "random_hidden_states_" + i), "hidden state " + i);
        }
        Tensor expected = Fixtures.tensor(ref, "random_predicted_depth");
        System.out.printf("DPT-Hybrid predicted_depth relative error %.3g%n",
                Fixtures.relativeError(out.predictedDepth().data, expected.data));
        assertClose(out.predictedDepth(), expected, "predicted_depth");
    }

    @Test
    void estimatorOnAPictureMatchesTransformers() {
        SafeTensors ref = reference();
        DepthMaps.Estimator estimator = DepthMaps.Estimator.load(Generated.dir("tiny-dpt-hybrid"), "--depth-model");
        assertThat(estimator.model().config().hybrid()).isTrue();
        RgbImage picture = RgbImage.read(Generated.dir("tiny-dpt-hybrid").resolve("input.png"), "input");
        Tensor pixels = DepthMaps.pixelValues(picture, estimator.processor());
        Tensor expectedPixels = Fixtures.tensor(ref, "pixel_values");
        assertThat(pixels.shape).containsExactly(expectedPixels.shape);
        assertThat(pixels.data).containsExactly(expectedPixels.data);
        Tensor depth = estimator.estimate(picture);
        Tensor expected = Fixtures.tensor(ref, "predicted_depth");
        System.out.printf("DPT-Hybrid depth of input.png relative error %.3g%n", Fixtures.relativeError(depth.data, expected.data));
        assertClose(depth, expected, "predicted_depth of input.png");
    }

    @Test
    void unsupportedBackboneOptionsAreRefusedByName(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        String config = Files.readString(Generated.dir("tiny-dpt-hybrid").resolve("config.json"));
        String preact = config.replace("\"layer_type\": \"bottleneck\"", "\"layer_type\": \"preactivation\"");
        assertThat(preact).isNotEqualTo(config);
        Path file = tmp.resolve("config.json");
        Files.writeString(file, preact);
        assertThatThrownBy(() -> DptConfig.read(file)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("layer_type 'preactivation'");
        String valid = config.replace("\"global_padding\": \"SAME\"", "\"global_padding\": \"VALID\"");
        assertThat(valid).isNotEqualTo(config);
        Files.writeString(file, valid);
        assertThatThrownBy(() -> DptConfig.read(file)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("global_padding 'VALID'");
        String ignore = config.replaceFirst("\"neck_ignore_stages\": \\[\\s*0,\\s*1\\s*]", "\"neck_ignore_stages\": []");
        assertThat(ignore).isNotEqualTo(config);
        Files.writeString(file, ignore);
        assertThatThrownBy(() -> DptConfig.read(file)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("neck_ignore_stages");
    }
}
