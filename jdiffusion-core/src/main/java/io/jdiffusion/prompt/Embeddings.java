package io.jdiffusion.prompt;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.clip.ClipTokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/** The textual-inversion embeddings of one job, by name. Immutable. */
public final class Embeddings {
    public static final Embeddings NONE = new Embeddings(Map.of(), Set.of());

    private final Map<String, Embedding> byName;
    private final Set<String> fromFolder; // names of those found in a folder: skipped where they do not fit

    private Embeddings(Map<String, Embedding> byName, Set<String> fromFolder) {
        this.byName = byName;
        this.fromFolder = fromFolder;
    }

    /**
     * Reads every file (a later one with the same token replaces an earlier one). A file the user named must
     * be readable; one found in a folder that cannot be read is left out, as A1111 leaves it out.
     */
    public static Embeddings load(List<EmbeddingFile> files) {
        if (files == null || files.isEmpty()) return NONE;
        Map<String, Embedding> byName = new LinkedHashMap<>();
        Set<String> fromFolder = new HashSet<>();
        for (EmbeddingFile f : files) {
            Embedding e;
            try {
                e = Embedding.load(f);
            } catch (JDiffusionException unreadable) {
                if (f.fromFolder()) continue;
                throw unreadable;
            }
            byName.put(e.name(), e);
            if (f.fromFolder()) fromFolder.add(e.name());
            else fromFolder.remove(e.name());
        }
        return byName.isEmpty() ? NONE : new Embeddings(Map.copyOf(byName), Set.copyOf(fromFolder));
    }

    /** Embeddings already in memory (a later one with the same name replaces an earlier one). */
    public static Embeddings of(List<Embedding> embeddings) {
        Map<String, Embedding> byName = new LinkedHashMap<>();
        for (Embedding e : embeddings) byName.put(e.name(), e);
        return byName.isEmpty() ? NONE : new Embeddings(Map.copyOf(byName), Set.of());
    }

    /**
     * These embeddings without those found in a folder that {@code fits} rejects (made for another model's
     * text encoder): their names stay plain words. Named ones are kept, to fail with their reason when used.
     */
    public Embeddings usable(Predicate<Embedding> fits) {
        Map<String, Embedding> kept = new LinkedHashMap<>();
        for (Embedding e : byName.values()) if (!fromFolder.contains(e.name()) || fits.test(e)) kept.put(e.name(), e);
        if (kept.size() == byName.size()) return this;
        return kept.isEmpty() ? NONE : new Embeddings(Map.copyOf(kept), Set.of());
    }

    public boolean isEmpty() {
        return byName.isEmpty();
    }

    public List<Embedding> all() {
        return List.copyOf(byName.values());
    }

    /**
     * Where embeddings start in a tokenized text, as A1111 finds them: each name is tokenized like the prompt,
     * and at a position the longest name whose tokens follow there wins.
     */
    Matcher matcher(ClipTokenizer tokenizer) {
        Map<Integer, List<Candidate>> byFirstToken = new HashMap<>();
        for (Embedding e : byName.values()) {
            int[] ids = tokenizer.encode(e.name());
            if (ids.length == 0) throw new JDiffusionException("embedding '" + e.name() + "': the name has no tokens");
            byFirstToken.computeIfAbsent(ids[0], k -> new ArrayList<>()).add(new Candidate(ids, e));
        }
        for (List<Candidate> list : byFirstToken.values()) {
            list.sort(Comparator.comparingInt((Candidate c) -> c.ids.length).reversed());
        }
        return new Matcher(byFirstToken);
    }

    record Candidate(int[] ids, Embedding embedding) {
    }

    static final class Matcher {
        private final Map<Integer, List<Candidate>> byFirstToken;

        private Matcher(Map<Integer, List<Candidate>> byFirstToken) {
            this.byFirstToken = byFirstToken;
        }

        /** The embedding whose name's tokens start at {@code position}, or null. */
        Candidate at(int[] tokens, int position) {
            List<Candidate> list = byFirstToken.get(tokens[position]);
            if (list == null) return null;
            for (Candidate c : list) {
                if (position + c.ids.length > tokens.length) continue;
                boolean same = true;
                for (int i = 0; i < c.ids.length && same; i++) same = tokens[position + i] == c.ids[i];
                if (same) return c;
            }
            return null;
        }
    }
}
