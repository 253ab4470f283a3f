package io.jdiffusion.model.addon;

import io.jdiffusion.io.TorchCheckpointWriter;
import io.jdiffusion.io.TorchCheckpointWriter.Emitter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Writes A1111 hypernetwork .pt files for tests: {width: (keys state dict, values state dict), layer_structure, ...}. */
public final class HypernetworkWriter {
    private HypernetworkWriter() {
    }

    /** A state dict of float32 tensors: name → shape and values, in order. */
    public record StateDict(Map<String, long[]> shapes, Map<String, float[]> values) {
        public StateDict() {
            this(new LinkedHashMap<>(), new LinkedHashMap<>());
        }

        public StateDict put(String name, float[] v, long... shape) {
            shapes.put(name, shape);
            values.put(name, v);
            return this;
        }
    }

    public static float[] random(Random r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * scale);
        return v;
    }

    /**
     * The [1, 2, 1] MLP of one width as A1111's Sequential names it (linear.0, then linear.2 or, with a
     * layer norm at index 2, linear.3); {@code zeroOutput} zeroes the last layer, so the MLP adds nothing.
     */
    public static StateDict mlp(Random r, int width, boolean layerNorm, boolean zeroOutput) {
        double scale = 1 / Math.sqrt(width);
        StateDict t = new StateDict();
        t.put("linear.0.weight", random(r, 2 * width * width, scale), 2 * width, width);
        t.put("linear.0.bias", random(r, 2 * width, scale), 2 * width);
        int next = 2;
        if (layerNorm) {
            t.put("linear.2.weight", random(r, 2 * width, 0.5), 2 * width);
            t.put("linear.2.bias", random(r, 2 * width, 0.5), 2 * width);
            next = 3;
        }
        t.put("linear." + next + ".weight", zeroOutput ? new float[2 * width * width] : random(r, 2 * width * width, scale), width, 2 * width);
        t.put("linear." + next + ".bias", zeroOutput ? new float[width] : random(r, width, scale), width);
        return t;
    }

    /** Random [1, 2, 1] relu MLPs (keys and values) for every width, from this seed. */
    public static Path write(Path file, int[] widths, long seed, boolean zeroOutput) throws IOException {
        Random r = new Random(seed);
        Map<Integer, StateDict[]> layers = new LinkedHashMap<>();
        for (int w : widths) layers.put(w, new StateDict[]{mlp(r, w, false, zeroOutput), mlp(r, w, false, zeroOutput)});
        return write(file, "test", layers, "relu", false);
    }

    public static Path write(Path file, String name, Map<Integer, StateDict[]> layers, String activation, boolean layerNorm) throws IOException {
        TorchCheckpointWriter w = new TorchCheckpointWriter();
        Emitter p = new Emitter().op(0x80).op(2).op('}').op('(');
        int storage = 0;
        for (var e : layers.entrySet()) {
            p.integer(e.getKey());
            for (StateDict sd : e.getValue()) {
                List<String[]> named = new ArrayList<>();
                for (var t : sd.values().entrySet()) {
                    String key = Integer.toString(storage++);
                    long[] shape = sd.shapes().get(t.getKey());
                    w.storage(key, TorchCheckpointWriter.StorageData.floats(t.getValue()));
                    w.tensor(key, key, 0, shape, shape.length == 2 ? new long[]{shape[1], 1} : new long[]{1});
                    named.add(new String[]{t.getKey(), key});
                }
                p.global("collections", "OrderedDict").op(')').op('R').op('(');
                for (String[] n : named) {
                    p.unicode(n[0]);
                    w.tensor(p, n[1], false);
                }
                p.op('u');
            }
            p.op(0x86);
        }
        p.unicode("layer_structure").op(']').op('(').floatValue(1).floatValue(2).floatValue(1).op('e');
        p.unicode("activation_func").unicode(activation);
        p.unicode("is_layer_norm").op(layerNorm ? 0x88 : 0x89);
        p.unicode("activate_output").op(0x89);
        p.unicode("name").unicode(name);
        p.op('u').op('.');
        w.writeZip(file, "archive", false, p.bytes());
        return file;
    }
}
