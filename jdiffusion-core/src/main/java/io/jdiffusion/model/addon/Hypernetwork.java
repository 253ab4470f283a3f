package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Pickle;
import io.jdiffusion.io.TensorFile;
import io.jdiffusion.io.TorchCheckpoint;
import io.jdiffusion.model.unet.AttentionInputs;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.DoubleUnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An A1111 hypernetwork ({@code models/hypernetworks/*.pt}): for each width of attention context (768 for
 * SD 1.x's text, 320/640/1280 for its self-attention, ...) two small MLPs, one for the keys' input and one
 * for the values'. Each turns a context {@code x} into {@code x + strength · mlp(x)} before the attention's
 * to_k / to_v projections; a context of a width the file has no MLPs for passes unchanged.
 *
 * <p>The file (a torch.save pickle, read through the allow-list unpickler) maps each width to a pair of
 * state dicts, {@code linear.<i>.weight/bias} for the Linear and LayerNorm modules of a torch Sequential,
 * and describes the rest: {@code layer_structure}, {@code activation_func} (applied after every Linear
 * but the last unless {@code activate_output}), {@code is_layer_norm}. Dropout does nothing at inference.
 * The first hypernetworks (NovelAI's) had only {@code linear1} and {@code linear2}, with no activation.
 */
public final class Hypernetwork {

    /** One layer of the MLP. */
    private sealed interface Layer {
        Tensor apply(Tensor x);
    }

    private record LinearLayer(Weight weight, Weight bias) implements Layer {
        @Override
        public Tensor apply(Tensor x) {
            return Ops.linear(x, weight, bias);
        }
    }

    private record LayerNormLayer(Weight gamma, Weight beta) implements Layer {
        /** torch.nn.LayerNorm's default eps, which A1111 uses. */
        private static final float EPS = 1e-5f;

        @Override
        public Tensor apply(Tensor x) {
            return Ops.layerNorm(x, gamma, beta, EPS);
        }
    }

    private record Activation(String name, DoubleUnaryOperator f) implements Layer {
        @Override
        public Tensor apply(Tensor x) {
            float[] o = new float[x.numel()];
            for (int i = 0; i < o.length; i++) o[i] = (float) f.applyAsDouble(x.data[i]);
            return new Tensor(o, x.shape);
        }
    }

    /** The activations A1111 offers by name (torch's defaults for their parameters). */
    private static final Map<String, DoubleUnaryOperator> ACTIVATIONS = Map.ofEntries(
            Map.entry("relu", v -> Math.max(0, v)),
            Map.entry("leakyrelu", v -> v >= 0 ? v : 0.01 * v),
            Map.entry("elu", v -> v > 0 ? v : Math.expm1(v)),
            Map.entry("swish", v -> v / (1 + Math.exp(-v))),
            Map.entry("silu", v -> v / (1 + Math.exp(-v))),
            Map.entry("tanh", Math::tanh),
            Map.entry("sigmoid", v -> 1 / (1 + Math.exp(-v))),
            Map.entry("gelu", v -> 0.5 * v * (1 + Ops.erf(v / Math.sqrt(2)))),
            Map.entry("mish", v -> v * Math.tanh(softplus(v))),
            Map.entry("softplus", Hypernetwork::softplus),
            Map.entry("softsign", v -> v / (1 + Math.abs(v))));

    private static double softplus(double v) {
        return v > 20 ? v : Math.log1p(Math.exp(v)); // torch's threshold of 20
    }

    /** The two MLPs of one context width. */
    private record Pair(List<Layer> keys, List<Layer> values) {
    }

    private final String name;
    private final Map<Integer, Pair> byWidth;

    private Hypernetwork(String name, Map<Integer, Pair> byWidth) {
        this.name = name;
        this.byWidth = Collections.unmodifiableMap(byWidth);
    }

    public String name() {
        return name;
    }

    /** The context widths this hypernetwork changes. */
    public Set<Integer> widths() {
        return new TreeSet<>(byWidth.keySet());
    }

    /** The input of to_k for this context [.., width]: context + strength · mlp_k(context), or the context itself. */
    public Tensor keys(Tensor context, double strength) {
        Pair p = byWidth.get(context.dim(-1));
        return p == null ? context : residual(context, p.keys(), strength);
    }

    /** The input of to_v, as {@link #keys} with the values' MLP. */
    public Tensor values(Tensor context, double strength) {
        Pair p = byWidth.get(context.dim(-1));
        return p == null ? context : residual(context, p.values(), strength);
    }

    private static Tensor residual(Tensor x, List<Layer> mlp, double strength) {
        Tensor y = x;
        for (Layer l : mlp) y = l.apply(y);
        float s = (float) strength;
        float[] out = new float[x.numel()];
        for (int i = 0; i < out.length; i++) out[i] = x.data[i] + y.data[i] * s;
        return new Tensor(out, x.shape);
    }

    /** A hypernetwork with the strength it is used at. */
    public record Applied(Hypernetwork hypernetwork, double strength) {
    }

    /** The UNet's attention inputs through these hypernetworks, each taking the previous one's keys and values (as A1111 chains them). */
    public static AttentionInputs chain(List<Applied> hypernetworks) {
        List<Applied> list = List.copyOf(hypernetworks);
        return new AttentionInputs() {
            @Override
            public Tensor keys(Tensor context) {
                Tensor k = context;
                for (Applied a : list) k = a.hypernetwork().keys(k, a.strength());
                return k;
            }

            @Override
            public Tensor values(Tensor context) {
                Tensor v = context;
                for (Applied a : list) v = a.hypernetwork().values(v, a.strength());
                return v;
            }
        };
    }

    // ---------------------------------------------------------------- reading

    private static final Pattern SEQUENTIAL = Pattern.compile("linear\\.(\\d{1,4})\\.(weight|bias)");

    public static Hypernetwork read(Path file) {
        if (!Files.isRegularFile(file)) throw new JDiffusionException(file + ": no such hypernetwork file");
        if (!(TensorFile.open(file) instanceof TorchCheckpoint ckpt) || !(ckpt.root() instanceof Map<?, ?> root)) {
            throw new JDiffusionException(file + ": not an A1111 hypernetwork (expected a PyTorch .pt file)");
        }
        String activation = root.get("activation_func") instanceof String a ? a : "linear";
        boolean activateOutput = Boolean.TRUE.equals(root.get("activate_output"));
        if (!activation.equals("linear") && !ACTIVATIONS.containsKey(activation)) {
            throw new JDiffusionException(file + ": hypernetwork activation '" + activation + "' is not supported (supported: linear, "
                    + String.join(", ", new TreeSet<>(ACTIVATIONS.keySet())) + ")");
        }
        int linearsExpected = root.get("layer_structure") instanceof List<?> ls ? ls.size() - 1 : -1;

        Map<Integer, Pair> byWidth = new TreeMap<>();
        for (var e : root.entrySet()) {
            if (!(e.getKey() instanceof Long width)) continue;
            List<?> pair = e.getValue() instanceof Pickle.Tuple t ? t.items() : e.getValue() instanceof List<?> l ? l : List.of();
            if (pair.size() != 2 || !(pair.get(0) instanceof Map<?, ?> k) || !(pair.get(1) instanceof Map<?, ?> v)) {
                throw new JDiffusionException(file + ": hypernetwork entry " + width + " is not a pair of state dicts");
            }
            String where = file + ": hypernetwork layers for width " + width;
            List<Layer> keys = mlp(where + " (keys)", k, activation, activateOutput, linearsExpected);
            List<Layer> values = mlp(where + " (values)", v, activation, activateOutput, linearsExpected);
            checkWidths(where, keys, Math.toIntExact(width));
            checkWidths(where, values, Math.toIntExact(width));
            byWidth.put(Math.toIntExact(width), new Pair(keys, values));
        }
        if (byWidth.isEmpty()) throw new JDiffusionException(file + ": not an A1111 hypernetwork (no layers for any context width)");
        String name = root.get("name") instanceof String n ? n : Loras.displayName(file);
        return new Hypernetwork(name, byWidth);
    }

    /** The Sequential's layers, in order, from its state dict. */
    private static List<Layer> mlp(String where, Map<?, ?> stateDict, String activation, boolean activateOutput, int linearsExpected) {
        Map<String, Weight> w = new TreeMap<>();
        for (var e : stateDict.entrySet()) {
            if (e.getKey() instanceof String n && e.getValue() instanceof TorchCheckpoint.StoredTensor t) w.put(n, t.toWeight(n));
        }
        if (w.containsKey("linear1.weight")) { // NovelAI's original two-layer form
            return List.of(new LinearLayer(w.get("linear1.weight"), w.get("linear1.bias")),
                    new LinearLayer(w.get("linear2.weight"), w.get("linear2.bias")));
        }
        TreeMap<Integer, Weight[]> modules = new TreeMap<>();
        for (var e : w.entrySet()) {
            Matcher m = SEQUENTIAL.matcher(e.getKey());
            if (!m.matches()) throw new JDiffusionException(where + ": unexpected tensor '" + e.getKey() + "'");
            modules.computeIfAbsent(Integer.parseInt(m.group(1)), i -> new Weight[2])[m.group(2).equals("weight") ? 0 : 1] = e.getValue();
        }
        long linears = modules.values().stream().filter(p -> p[0] != null && p[0].rank() == 2).count();
        if (linears == 0 || linearsExpected >= 0 && linears != linearsExpected) {
            throw new JDiffusionException(where + ": " + linears + " linear layers, but its layer_structure has " + linearsExpected);
        }
        List<Layer> layers = new ArrayList<>();
        int linear = 0;
        for (Weight[] p : modules.values()) {
            if (p[0] == null) throw new JDiffusionException(where + ": a layer with a bias but no weight");
            if (p[0].rank() == 2) {
                layers.add(new LinearLayer(p[0], p[1]));
                // A1111 puts the activation right after each Linear, before its LayerNorm; the last only with activate_output
                boolean last = ++linear == linears;
                if (!activation.equals("linear") && (!last || activateOutput)) layers.add(new Activation(activation, ACTIVATIONS.get(activation)));
            } else if (p[0].rank() == 1 && p[1] != null) {
                layers.add(new LayerNormLayer(p[0], p[1]));
            } else {
                throw new JDiffusionException(where + ": layer of shape " + p[0].shapeString() + " is neither linear nor a layer norm");
            }
        }
        return layers;
    }

    /** The MLP must map the width onto itself, each layer taking what the one before gives. */
    private static void checkWidths(String where, List<Layer> layers, int width) {
        int w = width;
        for (Layer l : layers) {
            switch (l) {
                case LinearLayer lin -> {
                    if (lin.weight().dim(1) != w || lin.bias() != null && lin.bias().dim(0) != lin.weight().dim(0)) {
                        throw new JDiffusionException(where + ": linear layer " + lin.weight().shapeString() + " does not take " + w + " features");
                    }
                    w = lin.weight().dim(0);
                }
                case LayerNormLayer ln -> {
                    if (ln.gamma().dim(0) != w) throw new JDiffusionException(where + ": layer norm of " + ln.gamma().dim(0) + " after " + w + " features");
                }
                case Activation a -> {
                }
            }
        }
        if (w != width) throw new JDiffusionException(where + ": ends with " + w + " features, not " + width);
    }
}
