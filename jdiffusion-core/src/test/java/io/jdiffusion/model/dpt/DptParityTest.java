package io.jdiffusion.model.dpt;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.pipeline.DepthMaps;
import io.jdiffusion.pipeline.RgbImage;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The plain-ViT DPT estimator and its processor against transformers on the tiny-dpt fixture. */
class DptParityTest {

    private static JsonNode dptCase() {
        return Fixtures.cases("depth_estimator").getFirst();
    }

    @Test
    void pixelValuesAreTheProcessorsOnes() {
        JsonNode c = dptCase();
        Path dir = Fixtures.require(c.get("dir").asText());
        RgbImage input = RgbImage.read(Fixtures.require(c.get("input_image").asText()), "input");
        assertThat(new int[]{input.height(), input.width()}).containsExactly(c.get("input_size").get(0).asInt(),
                c.get("input_size").get(1).asInt());
        Tensor pixels = DepthMaps.pixelValues(input, DptImageProcessor.read(dir.resolve("preprocessor_config.json")));
        Tensor expected = Fixtures.tensor(Fixtures.tensors(c.get("file").asText()), "pixel_values");
        assertThat(pixels.shape).containsExactly(expected.shape);
        assertThat(pixels.data).containsExactly(expected.data);
    }

    @Test
    void hiddenStatesAndDepthMatchTransformers() {
        JsonNode c = dptCase();
        SafeTensors ref = Fixtures.tensors(c.get("file").asText());
        Dpt dpt = Dpt.load(Fixtures.require(c.get("dir").asText()));
        Dpt.Output out = dpt.forward(Fixtures.tensor(ref, "pixel_values"));
        for (int i = 0; i < out.hiddenStates().size(); i++) {
            Tensor expected = Fixtures.tensor(ref, "hidden_states_" + i);
            assertThat(out.hiddenStates().get(i).shape).as("hidden state %d", i).containsExactly(expected.shape);
            double err = Fixtures.relativeError(out.hiddenStates().get(i).data, expected.data);
            assertThat(err).as("hidden state %d relative error", i).isLessThanOrEqualTo(1e-4);
        }
        Tensor expected = Fixtures.tensor(ref, "predicted_depth");
        assertThat(out.predictedDepth().shape).containsExactly(expected.shape);
        double err = Fixtures.relativeError(out.predictedDepth().data, expected.data);
        System.out.printf("DPT predicted_depth relative error %.3g%n", err);
        assertThat(err).isLessThanOrEqualTo(1e-4);
    }
}
