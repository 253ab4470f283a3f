package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.TorchCheckpointWriter;
import io.jdiffusion.io.TorchCheckpointWriter.Emitter;
import io.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HypernetworkTest {
    @TempDir
    Path dir;

    private static final int WIDTH = 4;

    /** A state dict of named float32 matrices/vectors: name → (shape, values). */
    private record Tensors(Map<String, long[]> shapes, Map<String, float[]> values) {
        Tensors() {
            this(new LinkedHashMap<>(), new LinkedHashMap<>());
        }

        Tensors put(String name, float[] v, long... shape) {
            shapes.put(name, shape);
            values.put(name, v);
            return this;
        }
    }

    private static float[] random(Random r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * scale);
        return v;
    }

    /** keys/values state dicts of a [1, 2, 1] structure; with layerNorm, A1111's Sequential indices shift by one. */
    private static Tensors mlp(Random r, boolean layerNorm, boolean zeroLast) {
        Tensors t = new Tensors();
        t.put("linear.0.weight", random(r, 2 * WIDTH * WIDTH, 0.5), 2 * WIDTH, WIDTH);
        t.put("linear.0.bias", random(r, 2 * WIDTH, 0.5), 2 * WIDTH);
        int next = 2;
        if (layerNorm) {
            t.put("linear.2.weight", random(r, 2 * WIDTH, 0.5), 2 * WIDTH);
            t.put("linear.2.bias", random(r, 2 * WIDTH, 0.5), 2 * WIDTH);
            next = 3;
        }
        t.put("linear." + next + ".weight", zeroLast ? new float[2 * WIDTH * WIDTH] : random(r, 2 * WIDTH * WIDTH, 0.5), WIDTH, 2 * WIDTH);
        t.put("linear." + next + ".bias", zeroLast ? new float[WIDTH] : random(r, WIDTH, 0.5), WIDTH);
        return t;
    }

    /** Writes an A1111 hypernetwork .pt: {WIDTH: (keys state dict, values state dict), layer_structure, activation_func, ...}. */
    private Path write(String name, Tensors keys, Tensors values, String activation, boolean layerNorm) throws IOException {
        TorchCheckpointWriter w = new TorchCheckpointWriter();
        List<Tensors> both = List.of(keys, values);
        List<List<String>> ids = new ArrayList<>();
        int storage = 0;
        for (Tensors t : both) {
            List<String> names = new ArrayList<>();
            for (var e : t.values().entrySet()) {
                String key = Integer.toString(storage++);
                long[] shape = t.shapes().get(e.getKey());
                w.storage(key, TorchCheckpointWriter.StorageData.floats(e.getValue()));
                w.tensor(key, key, 0, shape, shape.length == 2 ? new long[]{shape[1], 1} : new long[]{1});
                names.add(e.getKey() + "=" + key);
            }
            ids.add(names);
        }
        Emitter p = new Emitter().op(0x80).op(2).op('}').op('(');
        p.integer(WIDTH);
        for (List<String> names : ids) {
            p.global("collections", "OrderedDict").op(')').op('R').op('(');
            for (String n : names) {
                String[] parts = n.split("=");
                p.unicode(parts[0]);
                w.tensor(p, parts[1], false);
            }
            p.op('u');
        }
        p.op(0x86);
        p.unicode("layer_structure").op(']').op('(').floatValue(1).floatValue(2).floatValue(1).op('e');
        p.unicode("activation_func").unicode(activation);
        p.unicode("is_layer_norm").op(layerNorm ? 0x88 : 0x89);
        p.unicode("activate_output").op(0x89);
        p.unicode("name").unicode(name);
        p.op('u').op('.');
        Path file = dir.resolve(name + ".pt");
        w.writeZip(file, name, false, p.bytes());
        return file;
    }

    /** x + s · mlp(x), in double precision, straight from A1111's definition. */
    private static float[] expected(float[] x, Tensors t, boolean layerNorm, double s) {
        float[] w0 = t.values().get("linear.0.weight"), b0 = t.values().get("linear.0.bias");
        String last = layerNorm ? "linear.3" : "linear.2";
        float[] w1 = t.values().get(last + ".weight"), b1 = t.values().get(last + ".bias");
        int rows = x.length / WIDTH, hidden = 2 * WIDTH;
        float[] out = new float[x.length];
        for (int r = 0; r < rows; r++) {
            double[] h = new double[hidden];
            for (int j = 0; j < hidden; j++) {
                double a = b0[j];
                for (int i = 0; i < WIDTH; i++) a += w0[j * WIDTH + i] * x[r * WIDTH + i];
                h[j] = Math.max(0, a); // relu
            }
            if (layerNorm) {
                double mean = 0, var = 0;
                for (double v : h) mean += v / hidden;
                for (double v : h) var += (v - mean) * (v - mean) / hidden;
                float[] g = t.values().get("linear.2.weight"), b = t.values().get("linear.2.bias");
                for (int j = 0; j < hidden; j++) h[j] = (h[j] - mean) / Math.sqrt(var + 1e-5) * g[j] + b[j];
            }
            for (int i = 0; i < WIDTH; i++) {
                double a = b1[i];
                for (int j = 0; j < hidden; j++) a += w1[i * hidden + j] * h[j];
                out[r * WIDTH + i] = (float) (x[r * WIDTH + i] + s * a);
            }
        }
        return out;
    }

    @Test
    void appliesEachMlpAsA1111Defines() throws IOException {
        for (boolean layerNorm : new boolean[]{false, true}) {
            Random r = new Random(7);
            Tensors keys = mlp(r, layerNorm, false), values = mlp(r, layerNorm, false);
            Hypernetwork h = Hypernetwork.read(write("net" + layerNorm, keys, values, "relu", layerNorm));
            assertThat(h.widths()).containsExactly(WIDTH);
            assertThat(h.name()).isEqualTo("net" + layerNorm);
            Tensor x = new Tensor(random(r, 3 * WIDTH, 1.0), 1, 3, WIDTH);
            float[] k = h.keys(x, 0.7).data, v = h.values(x, 0.7).data;
            float[] ek = expected(x.data, keys, layerNorm, 0.7), ev = expected(x.data, values, layerNorm, 0.7);
            for (int i = 0; i < k.length; i++) {
                assertThat((double) k[i]).isCloseTo(ek[i], org.assertj.core.data.Offset.offset(1e-5));
                assertThat((double) v[i]).isCloseTo(ev[i], org.assertj.core.data.Offset.offset(1e-5));
            }
            // a context of another width passes unchanged
            Tensor other = new Tensor(random(r, 6, 1.0), 1, 2, 3);
            assertThat(h.keys(other, 1.0)).isSameAs(other);
        }
    }

    @Test
    void zeroInitialisedOutputLeavesTheContextUnchanged() throws IOException {
        Random r = new Random(3);
        Hypernetwork h = Hypernetwork.read(write("identity", mlp(r, false, true), mlp(r, false, true), "relu", false));
        Tensor x = new Tensor(random(r, 2 * WIDTH, 1.0), 1, 2, WIDTH);
        assertThat(h.keys(x, 1.0).data).isEqualTo(x.data);
        assertThat(h.values(x, 1.0).data).isEqualTo(x.data);
    }

    @Test
    void unknownActivationIsRefusedByName() throws IOException {
        Random r = new Random(1);
        Path file = write("odd", mlp(r, false, false), mlp(r, false, false), "prelu", false);
        assertThatThrownBy(() -> Hypernetwork.read(file)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith(file + ": hypernetwork activation 'prelu' is not supported");
    }

    @Test
    void aLoraIsNoHypernetwork() {
        Path lora = io.jdiffusion.testing.Fixtures.require("tiny-sd15-ref/lora-attn.safetensors");
        assertThatThrownBy(() -> Hypernetwork.read(lora)).hasMessage(lora + ": not an A1111 hypernetwork (expected a PyTorch .pt file)");
    }
}
