package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.addon.HypernetworkWriter.StateDict;
import io.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HypernetworkTest {
    @TempDir
    Path dir;

    private static final int WIDTH = 4;

    private static float[] random(Random r, int n, double scale) {
        return HypernetworkWriter.random(r, n, scale);
    }

    private static StateDict mlp(Random r, boolean layerNorm, boolean zeroLast) {
        return HypernetworkWriter.mlp(r, WIDTH, layerNorm, zeroLast);
    }

    private Path write(String name, StateDict keys, StateDict values, String activation, boolean layerNorm) throws IOException {
        return HypernetworkWriter.write(dir.resolve(name + ".pt"), name, Map.of(WIDTH, new StateDict[]{keys, values}), activation, layerNorm);
    }

    /** x + s · mlp(x), in double precision, straight from A1111's definition. */
    private static float[] expected(float[] x, StateDict t, boolean layerNorm, double s) {
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
            StateDict keys = mlp(r, layerNorm, false), values = mlp(r, layerNorm, false);
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
