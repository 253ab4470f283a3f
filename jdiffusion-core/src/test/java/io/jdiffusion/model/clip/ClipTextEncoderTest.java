package io.jdiffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.ClipTextConfig;
import io.jdiffusion.model.Json;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.TextEncoderSpec;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClipTextEncoderTest {
    private static final String REF = "tiny-sd15-ref/text_encoder.safetensors";

    private static TextEncoderSpec sd15() {
        return ModelLoader.load(Fixtures.tinySd15()).textEncoder();
    }

    @Test
    void matchesTheReferenceOutputs() throws IOException {
        ClipTextEncoder encoder = new ClipTextEncoder(sd15());
        int[][] ids = inputIds();
        ReferenceFile ref = reference();

        ClipTextEncoder.Output out = encoder.forward(ids);

        assertClose(out.lastHiddenState(), ref.floats("last_hidden_state"));
        assertClose(out.penultimateHiddenState(), ref.floats("penultimate_hidden_state"));
        assertClose(out.pooled(), ref.floats("pooler_output"));
    }

    @Test
    void theCasePromptsTokenizeToTheReferenceIds() throws IOException {
        JsonNode c = Fixtures.cases("text_encoder").getFirst();
        TextEncoderSpec spec = sd15();
        ClipTokenizer tokenizer = ClipTokenizer.bundled();
        int pad = tokenizer.tokenId(spec.padToken());
        int[][] ids = inputIds();
        JsonNode prompts = c.get("prompts");
        assertThat(prompts.size()).isEqualTo(ids.length);
        for (int i = 0; i < ids.length; i++) {
            assertThat(tokenizer.encodePadded(prompts.get(i).asText(), pad, ids[i].length)).containsExactly(ids[i]);
        }
    }

    @Test
    void clipSkipOneIsTheLastHiddenStateAndTwoIsTheNormalisedPenultimate() throws IOException {
        TextEncoderSpec spec = sd15();
        ClipTextEncoder encoder = new ClipTextEncoder(spec);
        int[][] ids = inputIds();
        ReferenceFile ref = reference();

        assertClose(encoder.encode(ids, 1), ref.floats("last_hidden_state"));
        assertClose(encoder.encode(ids, 0), ref.floats("last_hidden_state"));

        Weights w = spec.weights();
        Tensor expected = Ops.layerNorm(ref.floats("penultimate_hidden_state"),
                w.get("text_model.final_layer_norm.weight"), w.get("text_model.final_layer_norm.bias"),
                (float) spec.config().layerNormEps());
        assertClose(encoder.encode(ids, 2), expected);
    }

    @Test
    void deeperClipSkipStopsEarlierAndTooDeepIsAClearError() throws IOException {
        ClipTextEncoder encoder = new ClipTextEncoder(sd15());
        int[][] ids = inputIds();
        int layers = encoder.config().numLayers();
        Tensor deepest = encoder.encode(ids, layers);
        assertThat(deepest.shape).containsExactly(ids.length, ids[0].length, encoder.hiddenSize());
        assertThat(Fixtures.relativeError(deepest.data, encoder.encode(ids, layers - 1).data)).isGreaterThan(1e-3);
        assertThatThrownBy(() -> encoder.encode(ids, layers + 1)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("clip skip " + (layers + 1));
    }

    @Test
    void sd2TextEncoderRunsWithGeluAndBangPadding() {
        TextEncoderSpec spec = ModelLoader.load(Fixtures.require("tiny-sd21-v")).textEncoder();
        assertThat(spec.config().hiddenAct()).isEqualTo("gelu");
        ClipTokenizer tokenizer = ClipTokenizer.bundled();
        ClipTextEncoder encoder = new ClipTextEncoder(spec);
        int[] ids = tokenizer.encodePadded("a photograph of an astronaut riding a horse", tokenizer.tokenId(spec.padToken()), encoder.maxLength());
        ClipTextEncoder.Output out = encoder.forward(new int[][]{ids});
        int hidden = spec.config().hiddenSize();
        assertThat(out.lastHiddenState().shape).containsExactly(1, ids.length, hidden);
        assertThat(out.penultimateHiddenState().shape).containsExactly(1, ids.length, hidden);
        assertThat(out.pooled().shape).containsExactly(1, hidden);
        assertFinite(out.lastHiddenState());
        assertFinite(out.penultimateHiddenState());
        assertFinite(out.pooled());
    }

    @Test
    void projectionAndSeveralHeads() {
        // SDXL's second text encoder: CLIPTextModelWithProjection, two heads
        Path dir = Fixtures.require("tiny-sdxl/text_encoder_2");
        ClipTextConfig config = ClipTextConfig.fromTransformers(Json.read(dir.resolve("config.json")));
        Path file = dir.resolve("model.safetensors");
        Weights weights = new Weights(SafeTensors.open(file).tensors(), file.toString());
        assertThat(config.numHeads()).isGreaterThan(1);
        assertThat(weights.has("text_projection.weight")).isTrue();
        ClipTextEncoder encoder = new ClipTextEncoder(new TextEncoderSpec(config, weights, "!"));
        ClipTokenizer tokenizer = ClipTokenizer.bundled();
        int[][] ids = {
                tokenizer.encodePadded("a horse", 0, 77),
                tokenizer.encodePadded("a photograph of an astronaut riding a horse", 0, 77)};
        ClipTextEncoder.Output out = encoder.forward(ids);
        assertThat(out.pooled().shape).containsExactly(2, config.projectionDim());
        assertFinite(out.pooled());
        // the pooled vector is the projection of the end token's state
        int eosAt = tokenizer.encode("a horse").length + 1;
        Tensor endState = new Tensor(Arrays.copyOfRange(out.lastHiddenState().data,
                eosAt * config.hiddenSize(), (eosAt + 1) * config.hiddenSize()), 1, config.hiddenSize());
        Tensor projected = Ops.linear(endState, weights.get("text_projection.weight"), null);
        assertThat(Arrays.copyOf(out.pooled().data, config.projectionDim())).containsExactly(projected.data);
    }

    @Test
    void badInputsAreClearErrors() {
        ClipTextEncoder encoder = new ClipTextEncoder(sd15());
        int vocab = encoder.config().vocabSize();
        assertThatThrownBy(() -> encoder.forward(new int[][]{{49406, vocab}})).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("token id " + vocab);
        assertThatThrownBy(() -> encoder.forward(new int[][]{new int[encoder.maxLength() + 1]}))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("tokens per sequence");
        assertThatThrownBy(() -> encoder.forward(new int[][]{{1, 2}, {1}})).isInstanceOf(JDiffusionException.class);
    }

    private static void assertClose(Tensor actual, Tensor expected) {
        assertThat(actual.shape).containsExactly(expected.shape);
        assertThat(Fixtures.relativeError(actual.data, expected.data)).isLessThanOrEqualTo(1e-4);
    }

    private static void assertFinite(Tensor t) {
        for (float v : t.data) assertThat(Float.isFinite(v)).isTrue();
    }

    private static ReferenceFile reference() throws IOException {
        return ReferenceFile.open(REF);
    }

    private static int[][] inputIds() throws IOException {
        return reference().intRows("input_ids");
    }
}
