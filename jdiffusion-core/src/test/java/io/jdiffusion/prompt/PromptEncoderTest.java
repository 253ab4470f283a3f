package io.jdiffusion.prompt;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.io.TorchCheckpointWriter;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.clip.ClipTextEncoder;
import io.jdiffusion.model.clip.ClipTokenizer;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The prompt language through the tiny models' text encoders. */
class PromptEncoderTest {
    @TempDir
    Path dir;

    private static final ClipTokenizer TOKENIZER = ClipTokenizer.bundled();

    private record Setup(StableDiffusionModel model, ClipTokenizer tokenizer, ClipTextEncoder encoder, int pad) {
        PromptEncoder promptEncoder() {
            return new PromptEncoder(tokenizer, encoder, pad, "clip_l", model.source());
        }

        Tensor plain(int[] ids, int clipSkip) {
            return encoder.encode(new int[][]{ids}, clipSkip);
        }
    }

    private static Setup setup(Path modelPath) {
        StableDiffusionModel m = ModelLoader.load(modelPath, null);
        String padToken = m.textEncoder().padToken();
        ClipTokenizer t = padToken.equals(ClipTokenizer.END_OF_TEXT) ? TOKENIZER : TOKENIZER.withAddedToken(padToken);
        return new Setup(m, t, new ClipTextEncoder(m.textEncoder()), t.tokenId(padToken));
    }

    @Test
    void plainPromptsGiveExactlyThePlainEncoding() {
        for (Path model : List.of(Fixtures.tinySd15(), Fixtures.require("tiny-sd21-v.safetensors"))) {
            Setup s = setup(model);
            for (String prompt : List.of("a photograph of an astronaut riding a horse", "blurry, low quality", "",
                    "the same: with a colon!")) {
                for (int clipSkip : new int[]{1, 2}) {
                    Tensor expected = s.plain(s.tokenizer().encodePadded(prompt, s.pad(), 77), clipSkip);
                    Tensor got = s.promptEncoder().encode(prompt, clipSkip, Embeddings.NONE).context();
                    assertThat(got.shape).containsExactly(expected.shape);
                    assertThat(got.data).as(model + " / " + prompt).containsExactly(expected.data);
                }
            }
        }
    }

    @Test
    void longPromptsConcatenateTheirChunks() {
        Setup s = setup(Fixtures.tinySd15());
        StringBuilder prompt = new StringBuilder();
        for (int i = 0; i < 100; i++) prompt.append("horse ");
        Tensor got = s.promptEncoder().encode(prompt.toString(), 1, Embeddings.NONE).context();
        assertThat(got.shape).containsExactly(1, 154, s.encoder().hiddenSize());
        int horse = TOKENIZER.encode("horse")[0];
        int[] first = new int[77], second = new int[77];
        Arrays.fill(first, horse);
        first[0] = TOKENIZER.bosId();
        first[76] = TOKENIZER.eosId();
        Arrays.fill(second, TOKENIZER.eosId());
        second[0] = TOKENIZER.bosId();
        Arrays.fill(second, 1, 26, horse);
        Tensor expected = Tensor.cat0(s.plain(first, 1), s.plain(second, 1));
        assertThat(got.data).containsExactly(expected.data);
    }

    @Test
    void emphasisScalesTokenVectorsAndRestoresTheMean() {
        Setup s = setup(Fixtures.tinySd15());
        Tensor got = s.promptEncoder().encode("a (red:1.5) [horse]", 1, Embeddings.NONE).context();
        Tensor z = s.plain(TOKENIZER.encodePadded("a red horse", TOKENIZER.eosId(), 77), 1);
        int width = z.dim(2);
        float[] w = new float[77];
        Arrays.fill(w, 1f);
        w[2] = 1.5f;
        w[3] = (float) (1 / 1.1);
        double before = 0, after = 0;
        float[] scaled = new float[z.numel()];
        for (int i = 0; i < scaled.length; i++) {
            scaled[i] = z.data[i] * w[i / width];
            before += z.data[i];
            after += scaled[i];
        }
        float ratio = (float) (before / z.numel()) / (float) (after / z.numel());
        for (int i = 0; i < scaled.length; i++) assertThat(got.data[i]).isEqualTo(scaled[i] * ratio);
        // the emphasis changed something
        assertThat(got.data).isNotEqualTo(z.data);
    }

    @Test
    void aFullForwardGivesTheChosenStateAndTheFirstChunksPooledOutput() {
        // the way a model with two text encoders (SDXL) calls it, once per encoder
        Setup s = setup(Fixtures.tinySd15());
        String prompt = "a photograph of an astronaut riding a horse";
        PromptEmbedding e = s.promptEncoder().encode(prompt, Embeddings.NONE, ClipTextEncoder.Output::lastHiddenState);
        int[][] ids = {TOKENIZER.encodePadded(prompt, TOKENIZER.eosId(), 77)};
        ClipTextEncoder.Output reference = s.encoder().forward(ids);
        assertThat(e.context().data).containsExactly(reference.lastHiddenState().data);
        assertThat(e.pooled().data).containsExactly(reference.pooled().data);
    }

    /**
     * A prompt and its negative prompt run as one batch; each result must be what it gives alone (exactly
     * here; a matrix product deeper than one block of the GEMM may round a row differently in a batch).
     */
    @Test
    void promptsEncodedTogetherGiveWhatEachGivesAlone() {
        Setup s = setup(Fixtures.tinySd15());
        Path file = dir.resolve("cat-toy.safetensors");
        float[] v = new float[s.encoder().hiddenSize()];
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.cos(0.3 * i);
        SafeTensorsWriter.write(file, Map.of("<cat-toy>", Weight.ofFloats("<cat-toy>", v, v.length)));
        Embeddings embeddings = Embeddings.load(List.of(new EmbeddingFile("<cat-toy>", file)));
        String longEmphasized = "a (photograph:1.3) of a <cat-toy> " + "riding a horse, ".repeat(40) + "[blurry]";
        List<String> prompts = List.of(longEmphasized, "low quality", "");
        List<PromptEmbedding> together = s.promptEncoder().encodeAll(prompts, 2, embeddings);
        List<PromptEmbedding> full = s.promptEncoder().encodeAll(prompts, embeddings, ClipTextEncoder.Output::penultimateHiddenState);
        assertThat(together).hasSize(3);
        assertThat(together.get(0).context().shape).containsExactly(1, 3 * 77, s.encoder().hiddenSize());
        for (int i = 0; i < prompts.size(); i++) {
            PromptEmbedding alone = s.promptEncoder().encode(prompts.get(i), 2, embeddings);
            assertThat(together.get(i).context().shape).containsExactly(alone.context().shape);
            assertThat(together.get(i).context().data).as(prompts.get(i)).containsExactly(alone.context().data);
            PromptEmbedding aloneFull = s.promptEncoder().encode(prompts.get(i), embeddings, ClipTextEncoder.Output::penultimateHiddenState);
            assertThat(full.get(i).context().data).as(prompts.get(i)).containsExactly(aloneFull.context().data);
            assertThat(full.get(i).pooled().shape).containsExactly(aloneFull.pooled().shape);
            assertThat(full.get(i).pooled().data).as(prompts.get(i)).containsExactly(aloneFull.pooled().data);
        }
        assertThat(together.get(1).context().data).isNotEqualTo(together.get(2).context().data);
    }

    @Test
    void embeddingsOfTheWrongWidthAreRefusedNamingEmbeddingAndModel() {
        Path file = dir.resolve("wide.safetensors");
        SafeTensorsWriter.write(file, Map.of("emb_params", Weight.ofFloats("emb_params", new float[2 * 768], 2, 768)));
        Embeddings embeddings = Embeddings.load(List.of(new EmbeddingFile("wide", file)));
        LoadedModel model = new LoadedModel(ModelLoader.load(Fixtures.tinySd15(), null));
        assertThatThrownBy(() -> model.encodePrompt("a photo", 1, embeddings))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("'wide'").hasMessageContaining("768 wide")
                .hasMessageContaining(model.model().source());
    }

    @Test
    void theSameVectorReadsAlikeFromDiffusersSafetensorsAndA1111PtLayouts() throws IOException {
        Setup s = setup(Fixtures.tinySd15());
        int width = s.encoder().hiddenSize();
        float[] v = new float[width];
        for (int i = 0; i < width; i++) v[i] = (float) Math.sin(i);
        Path diffusers = dir.resolve("learned_embeds.safetensors");
        SafeTensorsWriter.write(diffusers, Map.of("<cat-toy>", Weight.ofFloats("<cat-toy>", v, width)));
        Path a1111 = dir.resolve("cat-toy.safetensors");
        SafeTensorsWriter.write(a1111, Map.of("emb_params", Weight.ofFloats("emb_params", v, 1, width)));
        Path pickled = dir.resolve("cat-toy.pt");
        TorchCheckpointWriter.writeA1111Embedding(pickled, "cat-toy", Weight.ofFloats("v", v, 1, width));
        Tensor without = s.promptEncoder().encode("a <cat-toy> on a mat", 1, Embeddings.NONE).context();
        Tensor one = null;
        for (Path file : List.of(diffusers, a1111, pickled)) {
            Tensor got = s.promptEncoder().encode("a <cat-toy> on a mat", 1,
                    Embeddings.load(List.of(new EmbeddingFile("<cat-toy>", file)))).context();
            if (one == null) one = got;
            assertThat(got.data).as(file.toString()).containsExactly(one.data);
        }
        assertThat(one.data).isNotEqualTo(without.data);
    }

    @Test
    void badEmbeddingFilesAreRefusedInOneLine() throws IOException {
        Path two = dir.resolve("two.safetensors");
        SafeTensorsWriter.write(two, Map.of("a", Weight.ofFloats("a", new float[4], 4), "b", Weight.ofFloats("b", new float[4], 4)));
        assertThatThrownBy(() -> Embeddings.load(List.of(new EmbeddingFile("two", two))))
                .isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--embedding: " + two + ": not a textual-inversion embedding");
        Path stateDict = dir.resolve("weights.pt");
        TorchCheckpointWriter.writeStateDict(stateDict, Map.of("a", Weight.ofFloats("a", new float[4], 4),
                "b", Weight.ofFloats("b", new float[4], 4)));
        assertThatThrownBy(() -> Embeddings.load(List.of(new EmbeddingFile("w", stateDict))))
                .isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--embedding: " + stateDict + ": not a textual-inversion embedding");
        Path sdxl = dir.resolve("uneven.safetensors");
        SafeTensorsWriter.write(sdxl, Map.of("clip_l", Weight.ofFloats("clip_l", new float[2 * 4], 2, 4),
                "clip_g", Weight.ofFloats("clip_g", new float[3 * 6], 3, 6)));
        assertThatThrownBy(() -> Embeddings.load(List.of(new EmbeddingFile("u", sdxl))))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("clip_l has 2 vectors but clip_g 3");
        assertThatThrownBy(() -> Embeddings.load(List.of(new EmbeddingFile("x", dir.resolve("missing.safetensors")))))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("no such file");
        assertThatThrownBy(() -> EmbeddingFile.parse("no-equals-sign"))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("TOKEN=FILE");
    }
}
