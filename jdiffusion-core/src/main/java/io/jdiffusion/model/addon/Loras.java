package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelFamily;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.TextEncoderSpec;
import io.jdiffusion.tensor.Parallel;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Merges LoRAs into a model: every adapted layer becomes {@code W + Σ scale · up · down} (the same on the
 * flattened [out, in·kh·kw] matrices for convolutions), as diffusers' {@code fuse_lora} and A1111 compute it.
 *
 * <p>The checkpoint is never modified: the result is a new set of weights in which only the adapted
 * layers are new float32 arrays, every other layer still the mapped tensor of the file. So a LoRA costs the
 * memory of the layers it touches, and the same loaded checkpoint serves with and without it.
 */
public final class Loras {
    private Loras() {
    }

    /** The model with these LoRAs merged into its UNet and text encoder; the model itself when the list is empty. */
    public static StableDiffusionModel apply(StableDiffusionModel model, List<LoraSpec> loras) {
        if (loras.isEmpty()) return model;
        List<Patch> unet = new ArrayList<>(), text = new ArrayList<>(), text2 = new ArrayList<>();
        for (LoraSpec spec : loras) {
            LoraFile file = LoraFile.read(spec.file());
            for (LoraFile.Module m : file.modules()) {
                switch (m.network()) {
                    case UNET -> unet.add(new Patch(file, m, m.scale(spec.unetWeight())));
                    case TEXT_ENCODER -> {
                        if (model.textEncoder() == null) {
                            throw mismatch(file, m, model.family(), "it adapts a first text encoder, which the SDXL refiner lacks");
                        }
                        text.add(new Patch(file, m, m.scale(spec.textEncoderWeight())));
                    }
                    case TEXT_ENCODER_2 -> {
                        if (model.textEncoder2() == null) {
                            throw mismatch(file, m, model.family(), "it adapts a second text encoder, which only SDXL has");
                        }
                        text2.add(new Patch(file, m, m.scale(spec.textEncoderWeight())));
                    }
                }
            }
        }
        StableDiffusionModel out = model;
        if (!unet.isEmpty()) out = out.withUnetWeights(merge(model.unet(), unet, model.family()));
        if (!text.isEmpty()) {
            TextEncoderSpec te = model.textEncoder();
            out = out.withTextEncoder(new TextEncoderSpec(te.config(), merge(te.weights(), text, model.family()), te.padToken()));
        }
        if (!text2.isEmpty()) {
            TextEncoderSpec te2 = model.textEncoder2();
            out = out.withTextEncoder2(new TextEncoderSpec(te2.config(), merge(te2.weights(), text2, model.family()), te2.padToken()));
        }
        return out;
    }

    /** One LoRA module with the scale it is applied with. */
    public record Patch(LoraFile file, LoraFile.Module module, double scale) {
    }

    /**
     * One network's weights with these modules merged in (all for this network). Several LoRAs on one layer
     * add up. A module the network does not have, or of another shape, is refused naming both.
     */
    public static Weights merge(Weights base, List<Patch> patches, ModelFamily family) {
        Map<String, String> byUnderscoredName = underscoredModuleNames(base);
        Map<String, List<Patch>> byTarget = new LinkedHashMap<>();
        for (Patch p : patches) {
            String target = target(base, byUnderscoredName, p, family);
            checkShape(base.get(target), p, family);
            byTarget.computeIfAbsent(target, k -> new ArrayList<>()).add(p);
        }
        Map<String, Weight> out = new TreeMap<>();
        for (String name : base.names()) out.put(name, base.get(name));
        for (var e : byTarget.entrySet()) out.put(e.getKey(), merged(base.get(e.getKey()), e.getValue()));
        return new Weights(out, base.source());
    }

    /** The model's weight a module adapts: {@code <module>.weight}, found by its dotted or underscored path. */
    private static String target(Weights base, Map<String, String> byUnderscoredName, Patch p, ModelFamily family) {
        LoraFile.Module m = p.module();
        String target = m.underscored() ? byUnderscoredName.get(m.name()) : m.name() + ".weight";
        if (AMBIGUOUS.equals(target)) {
            throw new JDiffusionException(p.file().path() + ": LoRA module '" + m.key() + "' matches two layers of the model");
        }
        if (target == null || !base.has(target)) {
            throw mismatch(p.file(), m, family, "the model's " + m.network().displayName + " has no such layer");
        }
        return target;
    }

    private static final String AMBIGUOUS = "\0ambiguous";

    /** kohya writes a module path with underscores for dots: map each of the model's layers back. */
    private static Map<String, String> underscoredModuleNames(Weights base) {
        Map<String, String> m = new HashMap<>();
        for (String name : base.names()) {
            if (!name.endsWith(".weight")) continue;
            String module = name.substring(0, name.length() - ".weight".length()).replace('.', '_');
            m.merge(module, name, (a, b) -> AMBIGUOUS);
        }
        return m;
    }

    /** up · down must give W's shape: [out, rank] · [rank, in·kh·kw] = [out, W.numel / out]. */
    private static void checkShape(Weight w, Patch p, ModelFamily family) {
        LoraFile.Module m = p.module();
        long out = w.dim(0), in = w.numel() / out;
        long downIn = m.down().numel() / m.rank();
        if (m.up().dim(0) != out || downIn != in) {
            throw mismatch(p.file(), m, family, "it changes a layer of " + out + "×" + in + " but the model's '" + w.name() + "' "
                    + w.shapeString() + " is not that (LoRA up " + m.up().shapeString() + ", down " + m.down().shapeString() + ")");
        }
    }

    /** W + Σ scale · (up · down), in float32, W's shape kept. */
    private static Weight merged(Weight w, List<Patch> patches) {
        int out = w.dim(0);
        int in = Math.toIntExact(w.numel() / out);
        float[] values = w.toFloats();
        for (Patch p : patches) {
            int rank = p.module().rank();
            float[] up = p.module().up().toFloats(), down = p.module().down().toFloats();
            float scale = (float) p.scale();
            Parallel.forRange(out, 8, (from, to) -> {
                float[] delta = new float[in];
                for (int o = from; o < to; o++) {
                    java.util.Arrays.fill(delta, 0f);
                    for (int r = 0; r < rank; r++) {
                        float u = up[o * rank + r];
                        int d = r * in;
                        for (int i = 0; i < in; i++) delta[i] += u * down[d + i];
                    }
                    int row = o * in;
                    for (int i = 0; i < in; i++) values[row + i] += scale * delta[i];
                }
            });
        }
        return Weight.ofFloats(w.name(), values, w.shape());
    }

    /** A LoRA that does not fit the model: names the module, the problem, and what the LoRA was made for when known. */
    private static JDiffusionException mismatch(LoraFile file, LoraFile.Module m, ModelFamily family, String problem) {
        String madeFor = file.trainedFor() != null ? "trained for " + file.trainedFor() : guessFamily(file);
        return new JDiffusionException(file.path() + ": LoRA module '" + m.key() + "' does not fit this " + family.displayName
                + " model: " + problem + (madeFor == null ? "" : " (the LoRA looks " + madeFor + ")"));
    }

    /** What the file's shapes suggest: SDXL by its two text encoders, else by the width of the cross-attention context. */
    private static String guessFamily(LoraFile file) {
        for (LoraFile.Module m : file.modules()) {
            if (m.network() == LoraFile.Network.TEXT_ENCODER_2) return "made for SDXL";
        }
        for (LoraFile.Module m : file.modules()) {
            if (m.network() == LoraFile.Network.UNET && m.name().matches(".*attn2[._]to_k")) {
                long context = m.down().numel() / m.rank();
                return context == 768 ? "made for SD 1.x (768-wide context)" : context == 1024 ? "made for SD 2.x (1024-wide context)"
                        : context == 2048 ? "made for SDXL (2048-wide context)" : "made for a model with a " + context + "-wide context";
            }
        }
        return null;
    }

    /** For messages and the infotext: the file name without its extension, as A1111 names LoRAs. */
    public static String displayName(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }
}
