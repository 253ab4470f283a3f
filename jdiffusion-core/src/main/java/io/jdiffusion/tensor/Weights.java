package io.jdiffusion.tensor;

import io.jdiffusion.JDiffusionException;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A named set of weights, as one network sees them (names relative to the network: for the UNet
 * {@code conv_in.weight}, {@code down_blocks.0.resnets.0.conv1.weight}, ...; the diffusers/transformers
 * naming for every network, whatever layout the file had). {@code source} names the file(s) for messages.
 */
public final class Weights {
    private final Map<String, Weight> byName;
    private final String source;

    public Weights(Map<String, Weight> byName, String source) {
        this.byName = new TreeMap<>(byName);
        this.source = source;
    }

    public String source() {
        return source;
    }

    public boolean has(String name) {
        return byName.containsKey(name);
    }

    public Set<String> names() {
        return new TreeSet<>(byName.keySet());
    }

    /** The weight of that name; a missing one is the user's problem (a wrong or damaged checkpoint). */
    public Weight get(String name) {
        Weight w = byName.get(name);
        if (w == null) throw new JDiffusionException(source + ": missing tensor '" + name + "'");
        return w;
    }

    /** The weight of that name, checked to have exactly this shape. */
    public Weight get(String name, long... shape) {
        Weight w = get(name);
        if (!Arrays.equals(w.shape(), shape)) {
            throw new JDiffusionException(source + ": tensor '" + name + "' has shape " + w.shapeString()
                    + ", expected " + Arrays.toString(shape));
        }
        return w;
    }

    /** Null when absent (optional tensors such as a bias). */
    public Weight getOptional(String name) {
        return byName.get(name);
    }

    /** The weights under {@code prefix + "."}, with the prefix removed. */
    public Weights sub(String prefix) {
        String p = prefix.endsWith(".") ? prefix : prefix + ".";
        Map<String, Weight> m = new TreeMap<>();
        for (var e : byName.entrySet()) {
            if (e.getKey().startsWith(p)) m.put(e.getKey().substring(p.length()), e.getValue());
        }
        return new Weights(m, source);
    }

    /** {@link Weight#releasePages()} for every weight: a network that has done its work for now. */
    public void releasePages() {
        for (Weight w : byName.values()) w.releasePages();
    }

    public int size() {
        return byName.size();
    }
}
