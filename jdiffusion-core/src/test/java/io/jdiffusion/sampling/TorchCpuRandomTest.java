package io.jdiffusion.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class TorchCpuRandomTest {

    private static JsonNode rngCase() {
        return Fixtures.cases("torch_cpu_randn").getFirst();
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }

    @Test
    void firstAndSecondDrawsAreBitIdenticalToTorch() {
        JsonNode c = rngCase();
        SafeTensors file = Fixtures.tensors(c.get("file").asText());
        List<String> checked = new ArrayList<>();
        for (JsonNode draw : c.get("draws")) {
            String id = draw.get("id").asText();
            int[] shape = new int[draw.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = draw.get("shape").get(i).asInt();
            TorchCpuRandom rng = new TorchCpuRandom(draw.get("seed").asLong());
            Tensor first = rng.randn(shape);
            Tensor second = rng.randn(shape);
            Tensor refFirst = Fixtures.tensor(file, id + "_first");
            Tensor refSecond = Fixtures.tensor(file, id + "_second");
            assertThat(first.shape).as(id).containsExactly(refFirst.shape);
            assertThat(bits(first.data)).as(id + "_first").containsExactly(bits(refFirst.data));
            assertThat(bits(second.data)).as(id + "_second").containsExactly(bits(refSecond.data));
            checked.add(id);
        }
        assertThat(checked).hasSize(c.get("draws").size()).isNotEmpty();
    }

    @Test
    void randMatchesTorchRand() {
        JsonNode c = rngCase();
        SafeTensors file = Fixtures.tensors(c.get("file").asText());
        Tensor ref = Fixtures.tensor(file, "rand_100");
        // cases.json: rand_100 = torch.rand([100]) after manual_seed(11)
        float[] got = new TorchCpuRandom(11).rand(100);
        assertThat(bits(got)).containsExactly(bits(ref.data));
    }

    @Test
    void onlyTheLow32BitsOfTheSeedMatter() {
        float[] a = new TorchCpuRandom(5).randn(40);
        float[] b = new TorchCpuRandom((1L << 32) + 5).randn(40);
        float[] c = new TorchCpuRandom(6).randn(40);
        assertThat(bits(a)).containsExactly(bits(b));
        assertThat(bits(a)).isNotEqualTo(bits(c));
    }

    @Test
    void randomSeedIsInTheUsualRange() {
        for (int i = 0; i < 20; i++) {
            assertThat(TorchCpuRandom.randomSeed()).isBetween(0L, 0xFFFF_FFFEL);
        }
    }
}
