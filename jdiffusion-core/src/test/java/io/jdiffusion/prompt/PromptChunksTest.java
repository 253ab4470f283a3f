package io.jdiffusion.prompt;

import io.jdiffusion.model.clip.ClipTokenizer;
import io.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How a prompt becomes 77-token rows, by A1111's rules (its {@code tokenize_line} in
 * {@code modules/sd_hijack_clip.py}): 75 tokens per chunk, the comma back-off of up to 20 tokens, BREAK,
 * embeddings expanded into one slot per vector and never split across chunks.
 */
class PromptChunksTest {
    private static final ClipTokenizer TOKENIZER = ClipTokenizer.bundled();
    private static final int CAT = TOKENIZER.encode("cat")[0];
    private static final int COMMA = TOKENIZER.tokenId(",</w>");
    private final PromptChunks chunks = new PromptChunks(TOKENIZER, 77, TOKENIZER.eosId());

    private List<PromptChunks.Chunk> split(String prompt) {
        return split(prompt, Embeddings.NONE);
    }

    private List<PromptChunks.Chunk> split(String prompt, Embeddings embeddings) {
        return chunks.split(prompt, embeddings, e -> {
            Tensor v = e.vectors().values().iterator().next();
            float[][] rows = new float[v.dim(0)][];
            for (int i = 0; i < rows.length; i++) rows[i] = Arrays.copyOfRange(v.data, i * v.dim(1), (i + 1) * v.dim(1));
            return rows;
        });
    }

    private static String cats(int n) {
        return String.join(" ", java.util.Collections.nCopies(n, "cat"));
    }

    /** The chunk's tokens between start and end token. */
    private static int[] body(PromptChunks.Chunk c) {
        int end = 1;
        while (c.ids()[end] != TOKENIZER.eosId()) end++;
        return Arrays.copyOfRange(c.ids(), 1, end);
    }

    @Test
    void aShortPromptIsTheTokenizersPaddedRow() {
        List<PromptChunks.Chunk> out = split("a photograph of an astronaut riding a horse");
        assertThat(out).hasSize(1);
        assertThat(out.getFirst().ids()).containsExactly(
                TOKENIZER.encodePadded("a photograph of an astronaut riding a horse", TOKENIZER.eosId(), 77));
        assertThat(out.getFirst().emphasized()).isFalse();
    }

    @Test
    void theEmptyPromptIsOneRow() {
        List<PromptChunks.Chunk> out = split("");
        assertThat(out).hasSize(1);
        assertThat(out.getFirst().ids()).containsExactly(TOKENIZER.encodePadded("", TOKENIZER.eosId(), 77));
    }

    @Test
    void longPromptsSplitEvery75Tokens() {
        List<PromptChunks.Chunk> out = split(cats(160));
        assertThat(out).hasSize(3);
        assertThat(body(out.get(0))).hasSize(75).containsOnly(CAT);
        assertThat(body(out.get(1))).hasSize(75).containsOnly(CAT);
        assertThat(body(out.get(2))).hasSize(10).containsOnly(CAT);
        for (PromptChunks.Chunk c : out) {
            assertThat(c.ids()).hasSize(77);
            assertThat(c.ids()[0]).isEqualTo(TOKENIZER.bosId());
        }
    }

    @Test
    void aCommaWithin20TokensOfTheEndStartsTheNextChunk() {
        List<PromptChunks.Chunk> out = split(cats(70) + ", " + cats(10));
        assertThat(out).hasSize(2);
        int[] first = body(out.get(0));
        assertThat(first).hasSize(71);
        assertThat(first[70]).isEqualTo(COMMA);
        assertThat(body(out.get(1))).hasSize(10).containsOnly(CAT);
    }

    @Test
    void aCommaFurtherBackIsIgnored() {
        List<PromptChunks.Chunk> out = split(cats(50) + ", " + cats(40));
        assertThat(body(out.get(0))).hasSize(75);
        assertThat(body(out.get(1))).hasSize(16).containsOnly(CAT);
    }

    @Test
    void breakEndsTheChunk() {
        List<PromptChunks.Chunk> out = split("a cat BREAK a dog");
        assertThat(out).hasSize(2);
        assertThat(body(out.get(0))).containsExactly(TOKENIZER.encode("a cat"));
        assertThat(body(out.get(1))).containsExactly(TOKENIZER.encode("a dog"));
    }

    @Test
    void weightsFollowTheirTokens() {
        PromptChunks.Chunk c = split("a (red:1.5) [cat]").getFirst();
        assertThat(c.emphasized()).isTrue();
        assertThat(c.weights()[0]).isEqualTo(1f); // start token
        assertThat(c.weights()[1]).isEqualTo(1f); // a
        assertThat(c.weights()[2]).isEqualTo(1.5f); // red
        assertThat(c.weights()[3]).isEqualTo((float) (1 / 1.1)); // cat
        assertThat(c.weights()[4]).isEqualTo(1f); // end token
    }

    private static Embeddings twoVectors(String name) {
        float[] v = new float[2 * 4];
        for (int i = 0; i < v.length; i++) v[i] = i + 1;
        Embedding e = new Embedding(name, "test", Map.of("emb_params", new Tensor(v, 2, 4)));
        return Embeddings.of(List.of(e));
    }

    @Test
    void anEmbeddingTakesOneSlotPerVector() {
        PromptChunks.Chunk c = split("a photo of <sj-toy> on a table", twoVectors("<sj-toy>")).getFirst();
        int[] photoOf = TOKENIZER.encode("a photo of");
        int[] rest = TOKENIZER.encode("on a table");
        assertThat(Arrays.copyOfRange(c.ids(), 1, 4)).containsExactly(photoOf);
        assertThat(c.vectors()[4]).containsExactly(1, 2, 3, 4);
        assertThat(c.vectors()[5]).containsExactly(5, 6, 7, 8);
        assertThat(c.vectors()[6]).isNull();
        assertThat(Arrays.copyOfRange(c.ids(), 6, 9)).containsExactly(rest);
        // the name is matched by its tokens, whatever the case
        assertThat(split("a photo of <SJ-Toy>", twoVectors("<sj-toy>")).getFirst().vectors()[4]).isNotNull();
    }

    @Test
    void anEmbeddingIsNeverSplitAcrossChunks() {
        List<PromptChunks.Chunk> out = split(cats(74) + " <sj-toy>", twoVectors("<sj-toy>"));
        assertThat(out).hasSize(2);
        assertThat(body(out.get(0))).hasSize(74);
        assertThat(out.get(1).vectors()[1]).isNotNull();
        assertThat(out.get(1).vectors()[2]).isNotNull();
    }
}
