package io.jdiffusion.model.dpt;

import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * DPT-Hybrid at the size of Intel/dpt-hybrid-midas (384×384, random weights) against transformers, with the
 * time of a forward pass. The model (~470 MB) is made by {@code tools/dpt_hybrid_real_size.py DIR} and not kept,
 * so this runs only with {@code -Djdiffusion.dptHybridRealSize=DIR}.
 */
class DptHybridRealSizeTest {

    @Test
    void fullSizeMatchesTransformers() {
        String dir = System.getProperty("jdiffusion.dptHybridRealSize");
        Assumptions.assumeTrue(dir != null && !dir.isBlank(), "set -Djdiffusion.dptHybridRealSize=DIR (tools/dpt_hybrid_real_size.py)");
        SafeTensors ref = SafeTensors.open(Path.of(dir, "reference.safetensors"));
        Ops.warmUp();
        long t0 = System.nanoTime();
        Dpt dpt = Dpt.load(Path.of(dir, "model"));
        long t1 = System.nanoTime();
        Tensor pixels = Fixtures.tensor(ref, "pixel_values");
        Tensor depth = dpt.predictDepth(pixels);
        long t2 = System.nanoTime();
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            long t = System.nanoTime();
            depth = dpt.predictDepth(pixels);
            best = Math.min(best, (System.nanoTime() - t) / 1e9);
        }
        Runtime rt = Runtime.getRuntime();
        double err = Fixtures.relativeError(depth.data, Fixtures.tensor(ref, "predicted_depth").data);
        System.out.printf("DPT-Hybrid 384x384: load %.2f s, first forward %.2f s, best of next 3 %.2f s, heap used %d MB, relative error %.3g%n",
                (t1 - t0) / 1e9, (t2 - t1) / 1e9, best, (rt.totalMemory() - rt.freeMemory()) >> 20, err);
        assertThat(err).isLessThanOrEqualTo(1e-4);
    }
}
