package io.jdiffusion.model.clip;

import io.jdiffusion.JDiffusionException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * CLIP's byte-level BPE tokenizer (49408 tokens), as the reference (transformers' CLIPTokenizer on
 * its tokenizers backend) runs it: special tokens are matched literally in the raw text; the rest is
 * NFC-normalised and lower-cased, cut into pieces by CLIP's pattern (whitespace only separates), each
 * piece turned into byte symbols and merged by BPE rank, its last symbol carrying the {@code </w>}
 * end-of-word mark.
 *
 * <p>The vocabulary is derived from OpenAI's merges file {@code bpe_simple_vocab_16e6.txt.gz} (bundled),
 * exactly as OpenAI's CLIP builds it: the 256 byte symbols, the same with {@code </w>}, one token per
 * merge in rank order, then {@code <|startoftext|>} and {@code <|endoftext|>}.
 *
 * <p>Instances are immutable apart from a concurrent piece cache, so one may be shared by threads.
 */
public final class ClipTokenizer {
    public static final String START_OF_TEXT = "<|startoftext|>";
    public static final String END_OF_TEXT = "<|endoftext|>";
    private static final String END_OF_WORD = "</w>";
    private static final String BUNDLED_MERGES = "bpe_simple_vocab_16e6.txt.gz";
    /** OpenAI's CLIP uses the first 49152 − 256 − 2 merges of its file (the file holds more). */
    private static final int MERGES_USED = 49152 - 256 - 2;
    private static final int CACHE_LIMIT = 50_000;

    /**
     * Whitespace as the reference's regex engine (Oniguruma, Unicode) defines {@code \s}: the C0 controls
     * tab to carriage return, NEL, and the line, paragraph and space separators.
     */
    private static final String WHITESPACE = "\\t\\n\\x0B\\f\\r\\x{85}\\p{Zl}\\p{Zp}\\p{Zs}";
    /**
     * CLIP's pieces: its special tokens, English contractions, letter runs, single digits, other-symbol runs.
     * (OpenAI matches it ignoring case; the text is lower-cased first, so that makes no difference.)
     */
    private static final Pattern PIECE = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^" + WHITESPACE + "\\p{L}\\p{N}]+");

    /** GPT-2's byte-to-unicode table: every byte gets a printable character, the printable ones keep their own. */
    private static final char[] BYTE_CHAR = new char[256];
    /** Position of each byte in the vocabulary's first 256 entries (printable bytes first, then the rest). */
    private static final int[] BYTE_ID = new int[256];
    private static final Map<Character, Integer> CHAR_BYTE = new HashMap<>();

    static {
        List<Integer> order = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) order.add(b);
        for (int b = 0xA1; b <= 0xAC; b++) order.add(b);
        for (int b = 0xAE; b <= 0xFF; b++) order.add(b);
        int printable = order.size();
        boolean[] seen = new boolean[256];
        for (int b : order) seen[b] = true;
        for (int b = 0; b < 256; b++) if (!seen[b]) order.add(b);
        for (int i = 0; i < 256; i++) {
            int b = order.get(i);
            // printable bytes map to themselves, the others to U+0100 onwards in byte order
            BYTE_CHAR[b] = (char) (i < printable ? b : 256 + (i - printable));
            BYTE_ID[b] = i;
            CHAR_BYTE.put(BYTE_CHAR[b], b);
        }
    }

    private final String[] tokens;
    private final Map<String, Integer> ids;
    private final PairRanks mergeRanks;
    private final int firstMergeId;
    private final int bosId, eosId;
    /** Tokens matched literally in the raw text before normalisation, longest first. */
    private final String[] specialTokens;
    private final Map<String, int[]> cache;

    private ClipTokenizer(String[] tokens, Map<String, Integer> ids, PairRanks mergeRanks, int firstMergeId,
                          String[] specialTokens, Map<String, int[]> cache) {
        this.tokens = tokens;
        this.ids = ids;
        this.mergeRanks = mergeRanks;
        this.firstMergeId = firstMergeId;
        this.bosId = ids.get(START_OF_TEXT);
        this.eosId = ids.get(END_OF_TEXT);
        this.specialTokens = specialTokens;
        this.cache = cache;
    }

    private static final class Bundled {
        static final ClipTokenizer INSTANCE = loadBundled();
    }

    /** The tokenizer of every Stable Diffusion text encoder, loaded once from the bundled merges file. */
    public static ClipTokenizer bundled() {
        return Bundled.INSTANCE;
    }

    private static ClipTokenizer loadBundled() {
        try (InputStream in = ClipTokenizer.class.getResourceAsStream(BUNDLED_MERGES)) {
            if (in == null) throw new IllegalStateException("resource " + BUNDLED_MERGES + " missing from the jar");
            return fromMergesFile(in, BUNDLED_MERGES);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read resource " + BUNDLED_MERGES, e);
        }
    }

    /** Builds the tokenizer from a gzipped OpenAI merges file (a header line, then one "a b" merge per line). */
    static ClipTokenizer fromMergesFile(InputStream gzipped, String source) throws IOException {
        List<String[]> merges = new ArrayList<>(MERGES_USED);
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(gzipped), StandardCharsets.UTF_8))) {
            r.readLine(); // "#version: ..."
            String line;
            while (merges.size() < MERGES_USED && (line = r.readLine()) != null) {
                String[] pair = line.trim().split("\\s+");
                if (pair.length != 2) throw new IllegalStateException(source + ": malformed merge line '" + line + "'");
                merges.add(pair);
            }
        }
        if (merges.size() != MERGES_USED) {
            throw new IllegalStateException(source + ": " + merges.size() + " merges, expected " + MERGES_USED);
        }

        String[] tokens = new String[512 + merges.size() + 2];
        for (int b = 0; b < 256; b++) {
            tokens[BYTE_ID[b]] = String.valueOf(BYTE_CHAR[b]);
            tokens[256 + BYTE_ID[b]] = BYTE_CHAR[b] + END_OF_WORD;
        }
        Map<String, Integer> ids = new HashMap<>(tokens.length * 2);
        for (int i = 0; i < 512; i++) ids.put(tokens[i], i);
        PairRanks ranks = new PairRanks(merges.size());
        int firstMergeId = 512;
        for (int rank = 0; rank < merges.size(); rank++) {
            String[] m = merges.get(rank);
            Integer a = ids.get(m[0]), b = ids.get(m[1]);
            if (a == null || b == null) throw new IllegalStateException(source + ": merge " + rank + " uses an unknown symbol");
            int id = firstMergeId + rank;
            tokens[id] = m[0] + m[1];
            ids.put(tokens[id], id);
            ranks.put(a, b, rank);
        }
        int next = firstMergeId + merges.size();
        for (String special : new String[]{START_OF_TEXT, END_OF_TEXT}) {
            tokens[next] = special;
            ids.put(special, next++);
        }
        return new ClipTokenizer(tokens, Map.copyOf(ids), ranks, firstMergeId,
                new String[]{START_OF_TEXT, END_OF_TEXT}, new ConcurrentHashMap<>());
    }

    /**
     * This tokenizer with one more vocabulary token matched literally in the raw text, as a transformers
     * tokenizer does with every token it registered as added: SD 2.x folders register their pad token
     * "!", so there a "!" in a prompt becomes that token rather than BPE's {@code !</w>}.
     */
    public ClipTokenizer withAddedToken(String token) {
        tokenId(token); // must exist
        if (Arrays.asList(specialTokens).contains(token)) return this;
        String[] specials = Arrays.copyOf(specialTokens, specialTokens.length + 1);
        specials[specials.length - 1] = token;
        // at one position the longest token wins
        Arrays.sort(specials, (x, y) -> Integer.compare(y.length(), x.length()));
        return new ClipTokenizer(tokens, ids, mergeRanks, firstMergeId, specials, cache);
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public int vocabSize() {
        return tokens.length;
    }

    /** The id of a vocabulary entry given in its vocabulary spelling ("!", "cat</w>", "<|endoftext|>"). */
    public int tokenId(String token) {
        Integer id = ids.get(token);
        if (id == null) throw new JDiffusionException("tokenizer: '" + token + "' is not a token of the CLIP vocabulary");
        return id;
    }

    /** The vocabulary spelling of an id. */
    public String token(int id) {
        if (id < 0 || id >= tokens.length) throw new JDiffusionException("tokenizer: id " + id + " is outside the vocabulary (0.." + (tokens.length - 1) + ")");
        return tokens[id];
    }

    /** The text's token ids, without start/end tokens and untruncated. */
    public int[] encode(String text) {
        IntList out = new IntList();
        int pos = 0;
        while (pos < text.length()) {
            int at = -1;
            String found = null;
            for (String s : specialTokens) {
                int i = text.indexOf(s, pos);
                if (i >= 0 && (at < 0 || i < at)) {
                    at = i;
                    found = s;
                }
            }
            int end = at < 0 ? text.length() : at;
            encodeOrdinaryText(text.substring(pos, end), out);
            if (found == null) break;
            out.add(ids.get(found));
            pos = at + found.length();
        }
        return out.toArray();
    }

    /**
     * {@code <|startoftext|>}, the text's ids, {@code <|endoftext|>}, cut to {@code maxLength} (the ids are
     * shortened, so the last token kept is still the end token) and padded with {@code padTokenId}.
     */
    public int[] encodePadded(String text, int padTokenId, int maxLength) {
        if (maxLength < 2) throw new JDiffusionException("tokenizer: maxLength " + maxLength + " leaves no room for the start and end tokens");
        int[] body = encode(text);
        int kept = Math.min(body.length, maxLength - 2);
        int[] out = new int[maxLength];
        out[0] = bosId;
        System.arraycopy(body, 0, out, 1, kept);
        out[kept + 1] = eosId;
        Arrays.fill(out, kept + 2, maxLength, padTokenId);
        return out;
    }

    /** The text the ids spell, with end-of-word marks as spaces (special tokens kept as written). */
    public String decode(int[] tokenIds) {
        StringBuilder symbols = new StringBuilder();
        for (int id : tokenIds) symbols.append(token(id));
        String text = symbols.toString().replace(END_OF_WORD, String.valueOf(BYTE_CHAR[' ']));
        byte[] bytes = new byte[text.length()];
        int n = 0;
        for (int i = 0; i < text.length(); i++) {
            Integer b = CHAR_BYTE.get(text.charAt(i));
            bytes[n++] = (byte) (b != null ? b : '?');
        }
        return new String(bytes, 0, n, StandardCharsets.UTF_8).strip();
    }

    private void encodeOrdinaryText(String raw, IntList out) {
        if (raw.isEmpty()) return;
        String text = lowerCase(Normalizer.normalize(raw, Normalizer.Form.NFC));
        // the reference also collapses whitespace runs to one space; whitespace only separates pieces,
        // so that would change nothing here
        Matcher m = PIECE.matcher(text);
        while (m.find()) out.addAll(bpe(m.group()));
    }

    /**
     * Lower case character by character, each with its full Unicode mapping (so no context-dependent
     * final sigma, and İ becomes i + combining dot), as the reference's normaliser does.
     */
    private static String lowerCase(String s) {
        StringBuilder b = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> {
            if (cp == 0x130) b.append("i\u0307");
            else b.appendCodePoint(Character.toLowerCase(cp));
        });
        return b.toString();
    }

    /** One piece's ids; pieces repeat a lot, so results are cached. */
    private int[] bpe(String piece) {
        int[] cached = cache.get(piece);
        if (cached != null) return cached;
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        int[] symbols = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) symbols[i] = BYTE_ID[bytes[i] & 0xff];
        symbols[bytes.length - 1] += 256; // the same byte with </w>
        int n = symbols.length;
        while (n > 1) {
            int bestRank = Integer.MAX_VALUE, first = -1, second = -1;
            for (int i = 0; i + 1 < n; i++) {
                int r = mergeRanks.get(symbols[i], symbols[i + 1]);
                if (r >= 0 && r < bestRank) {
                    bestRank = r;
                    first = symbols[i];
                    second = symbols[i + 1];
                }
            }
            if (first < 0) break;
            // merge every occurrence of the best pair, left to right
            int merged = firstMergeId + bestRank;
            int w = 0;
            for (int i = 0; i < n; ) {
                if (i + 1 < n && symbols[i] == first && symbols[i + 1] == second) {
                    symbols[w++] = merged;
                    i += 2;
                } else {
                    symbols[w++] = symbols[i++];
                }
            }
            n = w;
        }
        int[] result = Arrays.copyOf(symbols, n);
        if (cache.size() >= CACHE_LIMIT) cache.clear();
        cache.put(piece, result);
        return result;
    }

    /** Merge rank by symbol pair: an open-addressing table keyed by the two ids in one long. */
    private static final class PairRanks {
        private final long[] keys;
        private final int[] ranks;
        private final int mask;

        PairRanks(int expected) {
            int capacity = Integer.highestOneBit(Math.max(4, expected) * 4 - 1);
            keys = new long[capacity];
            ranks = new int[capacity];
            Arrays.fill(keys, -1L);
            mask = capacity - 1;
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            int i = (int) (h >>> 40) & mask;
            while (keys[i] != -1L && keys[i] != key) i = (i + 1) & mask;
            return i;
        }

        void put(int a, int b, int rank) {
            long key = ((long) a << 32) | b;
            int i = slot(key);
            keys[i] = key;
            ranks[i] = rank;
        }

        /** The pair's rank, or -1 when it is not a merge. */
        int get(int a, int b) {
            long key = ((long) a << 32) | b;
            int i = slot(key);
            return keys[i] == key ? ranks[i] : -1;
        }
    }

    private static final class IntList {
        private int[] data = new int[32];
        private int size;

        void add(int v) {
            if (size == data.length) data = Arrays.copyOf(data, size * 2);
            data[size++] = v;
        }

        void addAll(int[] vs) {
            if (size + vs.length > data.length) data = Arrays.copyOf(data, Math.max(size * 2, size + vs.length));
            System.arraycopy(vs, 0, data, size, vs.length);
            size += vs.length;
        }

        int[] toArray() {
            return Arrays.copyOf(data, size);
        }
    }
}
