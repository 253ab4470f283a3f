package io.jdiffusion.bench;

import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.pipeline.Txt2Img;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Variants;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Two versions of the UNet step compared in one process, step against step: a {@link Variants} switch on,
 * then off (the order alternating), for a number of pairs; prints each pair and the median of the on/off
 * time ratios. On the shared machines two bench processes cannot be compared (their speed changes by 2×
 * and more from one minute to the next); the two steps of a pair run within seconds of each other.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp ... io.jdiffusion.bench.StepCompare SWITCH [SIZE] [PAIRS] [ARCH]</pre>
 * SWITCH: a field of {@link Variants} (winograd, gemmShared); SIZE: image width and height (256); PAIRS (8);
 * ARCH: sd15, sd21, sdxl (sd15). Weights as the bench makes them (random, the published layout, fp16).
 */
public final class StepCompare {
    private StepCompare() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) throw new IllegalArgumentException("usage: StepCompare SWITCH [SIZE] [PAIRS] [ARCH]");
        String variant = args[0];
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int pairs = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        Arch arch = args.length > 3 ? Arch.valueOf(args[3].toUpperCase(Locale.ROOT)) : Arch.SD15;
        boolean initial = Variants.get(variant);

        Path file = Files.createTempFile("jdiffusion-stepcompare-", ".safetensors");
        LoadedModel model;
        try {
            RandomCheckpoint.write(file, arch.layout().tensors(), 20240101L);
            model = new LoadedModel(ModelLoader.load(file));
        } finally {
            Files.deleteIfExists(file); // mapped: readable until unmapped
        }
        Txt2ImgRequest request = new Txt2ImgRequest(Path.of(model.model().source()), null, Bench.PROMPT, Bench.NEGATIVE_PROMPT,
                "euler", 1, 7.5, 0L, size, size, 1, 1, null, false);
        NoisePredictor step = Txt2Img.denoiser(model, request);
        int scale = model.vaeScale();
        Tensor latents = new TorchCpuRandom(0L).randn(1, model.latentChannels(), size / scale, size / scale);
        for (boolean on : new boolean[]{true, false}) { // a warm-up step each way
            Variants.set(variant, on);
            step.predict(latents, 999);
        }

        List<Double> ratios = new ArrayList<>();
        double onTotal = 0, offTotal = 0;
        for (int p = 0; p < pairs; p++) {
            double on = 0, off = 0;
            for (boolean state : p % 2 == 0 ? new boolean[]{true, false} : new boolean[]{false, true}) {
                Variants.set(variant, state);
                long t0 = System.nanoTime();
                step.predict(latents, 500);
                double s = (System.nanoTime() - t0) / 1e9;
                if (state) on = s;
                else off = s;
            }
            onTotal += on;
            offTotal += off;
            ratios.add(on / off);
            System.out.printf(Locale.ROOT, "pair %d: %s on %.3f s, off %.3f s, on/off %.3f%n", p + 1, variant, on, off, on / off);
        }
        Variants.set(variant, initial);
        Collections.sort(ratios);
        System.out.printf(Locale.ROOT, "%s %dx%d %s: mean step on %.3f s, off %.3f s; on/off median %.3f (quartiles %.3f, %.3f; %d pairs)%n",
                arch.id, size, size, variant, onTotal / pairs, offTotal / pairs, ratios.get(pairs / 2), ratios.get(pairs / 4),
                ratios.get(3 * pairs / 4), pairs);
    }
}
