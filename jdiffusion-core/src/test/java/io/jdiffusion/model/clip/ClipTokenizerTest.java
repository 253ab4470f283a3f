package io.jdiffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.Json;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClipTokenizerTest {
    private final ClipTokenizer tokenizer = ClipTokenizer.bundled();

    @Test
    void derivedVocabularyEqualsTheReferenceVocabJson() {
        JsonNode vocab = Json.read(Fixtures.require("tokenizer/vocab.json"));
        assertThat(tokenizer.vocabSize()).isEqualTo(vocab.size());
        vocab.properties().forEach(e -> {
            int id = e.getValue().asInt();
            assertThat(tokenizer.token(id)).as("token %d", id).isEqualTo(e.getKey());
            assertThat(tokenizer.tokenId(e.getKey())).isEqualTo(id);
        });
    }

    @Test
    void specialIdsAreTheVocabularyEntries() {
        JsonNode vocab = Json.read(Fixtures.require("tokenizer/vocab.json"));
        assertThat(tokenizer.bosId()).isEqualTo(vocab.get("<|startoftext|>").asInt());
        assertThat(tokenizer.eosId()).isEqualTo(vocab.get("<|endoftext|>").asInt());
        assertThat(tokenizer.tokenId("!")).isEqualTo(vocab.get("!").asInt());
    }

    @Test
    void everyReferenceCaseGivesIdenticalIds() throws Exception {
        JsonNode specials = Json.read(Fixtures.require("tokenizer/special_tokens_map.json"));
        int pad = tokenizer.tokenId(specials.get("pad_token").asText());
        JsonNode cases = Json.MAPPER.readTree(Fixtures.require("tokenizer_cases.json").toFile());
        assertThat(cases.size()).isPositive();
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            int[] padded = ints(c.get("input_ids_padded_77"));
            assertThat(tokenizer.encode(text)).as("ids of %s", text).containsExactly(ints(c.get("ids_no_special_untruncated")));
            assertThat(tokenizer.encodePadded(text, pad, padded.length)).as("padded ids of %s", text).containsExactly(padded);
        }
    }

    @Test
    void truncationKeepsTheEndToken() {
        String text = "one two three four five six seven eight nine ten";
        int[] full = tokenizer.encode(text);
        int[] cut = tokenizer.encodePadded(text, tokenizer.eosId(), 6);
        assertThat(cut).hasSize(6);
        assertThat(cut[0]).isEqualTo(tokenizer.bosId());
        assertThat(cut).startsWith(tokenizer.bosId(), full[0], full[1], full[2], full[3]);
        assertThat(cut[5]).isEqualTo(tokenizer.eosId());
    }

    @Test
    void paddingUsesTheGivenId() {
        int bang = tokenizer.tokenId("!");
        int[] ids = tokenizer.encodePadded("a horse", bang, 10);
        int[] body = tokenizer.encode("a horse");
        assertThat(ids[body.length + 1]).isEqualTo(tokenizer.eosId());
        for (int i = body.length + 2; i < ids.length; i++) assertThat(ids[i]).isEqualTo(bang);
    }

    @Test
    void specialTokensInTheTextAreMatchedLiterally() {
        int[] ids = tokenizer.encode("a<|endoftext|>b");
        assertThat(ids).containsExactly(concat(tokenizer.encode("a"), new int[]{tokenizer.eosId()}, tokenizer.encode("b")));
    }

    @Test
    void anAddedTokenIsCutOutOfTheTextBeforeBpe() {
        int bang = tokenizer.tokenId("!");
        int[] plain = tokenizer.encode("van gogh!");
        assertThat(plain[plain.length - 1]).isEqualTo(tokenizer.tokenId("!</w>"));
        int[] added = tokenizer.withAddedToken("!").encode("van gogh!");
        assertThat(added).containsExactly(concat(tokenizer.encode("van gogh"), new int[]{bang}));
    }

    @Test
    void decodeRestoresLowerCaseWords() {
        String text = "a photograph of an astronaut riding a horse";
        assertThat(tokenizer.decode(tokenizer.encode(text))).isEqualTo(text);
        assertThat(tokenizer.decode(tokenizer.encode("emoji 🐱 and ümlauts"))).isEqualTo("emoji 🐱 and ümlauts");
    }

    @Test
    void bundledIsLoadedOnce() {
        assertThat(ClipTokenizer.bundled()).isSameAs(tokenizer);
    }

    @Test
    void userErrorsAreClear() {
        assertThatThrownBy(() -> tokenizer.tokenId("no-such-token")).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("no-such-token");
        assertThatThrownBy(() -> tokenizer.encodePadded("x", 0, 1)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("maxLength");
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }

    private static int[] concat(int[]... parts) {
        List<Integer> all = new ArrayList<>();
        for (int[] p : parts) for (int v : p) all.add(v);
        return all.stream().mapToInt(Integer::intValue).toArray();
    }
}
