package io.jdiffusion.prompt;

import io.jdiffusion.model.clip.ClipTokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A parsed prompt cut into rows the text encoder takes, as A1111 cuts it: each fragment is tokenized on
 * its own; tokens fill chunks of 75; a token that would start a 76th moves the chunk's tail after its last
 * comma (if that comma is at most 20 tokens back) into the next chunk; BREAK closes a chunk; an embedding's
 * vectors never straddle two chunks. Each chunk becomes one row: start token, its tokens, end token, pad
 * tokens up to 77 (the layout diffusers' tokenizer gives, which A1111 also produces for SD 1.x and 2.x).
 */
final class PromptChunks {
    /** A1111's "comma padding backtrack" default. */
    static final int COMMA_BACKTRACK = 20;
    /** The id placed in an embedding's slots; its row is replaced by the embedding's vector. */
    private static final int EMBEDDING_SLOT_ID = 0;

    /**
     * One row for the text encoder.
     *
     * @param ids     77 token ids: start, tokens, end, padding
     * @param weights each token's emphasis (1 for start, end and padding)
     * @param vectors per position, the embedding vector that replaces the token's row, or null
     */
    record Chunk(int[] ids, float[] weights, float[][] vectors) {
        boolean emphasized() {
            for (float w : weights) if (w != 1f) return true;
            return false;
        }
    }

    private final ClipTokenizer tokenizer;
    private final int length;
    private final int padId;
    private final int commaId;

    /**
     * @param rowLength the encoder's sequence length (77): chunks hold rowLength − 2 tokens
     */
    PromptChunks(ClipTokenizer tokenizer, int rowLength, int padId) {
        this.tokenizer = tokenizer;
        this.length = rowLength - 2;
        this.padId = padId;
        this.commaId = tokenizer.tokenId(",</w>");
    }

    /** The chunks of a prompt; {@code vectorsOf} gives an embedding's vectors [n, width] for this encoder. */
    List<Chunk> split(String prompt, Embeddings embeddings, Function<Embedding, float[][]> vectorsOf) {
        Embeddings.Matcher matcher = embeddings.matcher(tokenizer);
        List<Chunk> chunks = new ArrayList<>();
        Builder current = new Builder();
        for (PromptParser.Fragment fragment : PromptParser.parse(prompt)) {
            if (fragment.isBreak()) {
                chunks.add(current.finish());
                current = new Builder();
                continue;
            }
            int[] tokens = tokenizer.encode(fragment.text());
            float weight = (float) fragment.weight();
            int position = 0;
            while (position < tokens.length) {
                int token = tokens[position];
                if (token == commaId) {
                    current.lastComma = current.size();
                } else if (current.size() == length && current.lastComma >= 0
                        && current.size() - current.lastComma <= COMMA_BACKTRACK) {
                    // start the next chunk after the last comma rather than mid-phrase
                    Builder next = current.splitAfter(current.lastComma + 1);
                    chunks.add(current.finish());
                    current = next;
                }
                if (current.size() == length) {
                    chunks.add(current.finish());
                    current = new Builder();
                }
                Embeddings.Candidate embedding = matcher.at(tokens, position);
                if (embedding == null) {
                    current.add(token, weight, null);
                    position++;
                    continue;
                }
                float[][] vectors = vectorsOf.apply(embedding.embedding());
                if (current.size() + vectors.length > length) {
                    chunks.add(current.finish());
                    current = new Builder();
                }
                for (float[] v : vectors) current.add(EMBEDDING_SLOT_ID, weight, v);
                position += embedding.ids().length;
            }
        }
        if (current.size() > 0 || chunks.isEmpty()) chunks.add(current.finish());
        return chunks;
    }

    /** A chunk being filled. */
    private final class Builder {
        final List<Integer> tokens = new ArrayList<>();
        final List<Float> weights = new ArrayList<>();
        final List<float[]> vectors = new ArrayList<>();
        int lastComma = -1;

        int size() {
            return tokens.size();
        }

        void add(int token, float weight, float[] vector) {
            tokens.add(token);
            weights.add(weight);
            vectors.add(vector);
        }

        /** Removes the entries from {@code from} on and returns them as a new chunk. */
        Builder splitAfter(int from) {
            Builder tail = new Builder();
            for (int i = from; i < size(); i++) tail.add(tokens.get(i), weights.get(i), vectors.get(i));
            tokens.subList(from, size()).clear();
            weights.subList(from, weights.size()).clear();
            vectors.subList(from, vectors.size()).clear();
            return tail;
        }

        Chunk finish() {
            int rowLength = length + 2;
            int[] ids = new int[rowLength];
            float[] w = new float[rowLength];
            float[][] v = new float[rowLength][];
            java.util.Arrays.fill(w, 1f);
            ids[0] = tokenizer.bosId();
            for (int i = 0; i < size(); i++) {
                ids[1 + i] = tokens.get(i);
                w[1 + i] = weights.get(i);
                v[1 + i] = vectors.get(i);
            }
            ids[size() + 1] = tokenizer.eosId();
            java.util.Arrays.fill(ids, size() + 2, rowLength, padId);
            return new Chunk(ids, w, v);
        }
    }
}
