package io.jdiffusion.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.vae.VaeTiling;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.pipeline.Txt2Img;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.FlopCounter;
import io.jdiffusion.tensor.KernelProbe;
import io.jdiffusion.tensor.OpProfile;
import io.jdiffusion.tensor.Parallel;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code jdiffusion bench}: times the three networks of a full-size model the way txt2img runs them.
 *
 * <ol>
 * <li>The model: with {@code --arch}, the published architecture ({@link Arch}) with random fp16 weights,
 *     written as an original-layout checkpoint to a temporary file (deleted once mapped) and opened by the
 *     real loader, so the engine sees exactly what it sees for the downloaded file; or a real checkpoint
 *     ({@code --model}).</li>
 * <li>Text encoder: the prompt and the negative prompt, as one guided txt2img encodes them (after one
 *     warm-up encoding).</li>
 * <li>UNet: one guided step = the UNet on batch 2 (unconditional and conditional) plus the guidance
 *     combination, on latents of the requested size; one warm-up step, then {@code steps} timed ones. The
 *     matrix-product FLOPs of the timed steps are counted ({@link FlopCounter}) to give GFLOP/s.</li>
 * <li>VAE decode of one latent image (after a warm-up decode of an 8×8 latent, which compiles the same
 *     code paths at 1/64 of the cost of a 512² decode).</li>
 * <li>Peak resident memory of the whole process (VmHWM), weights included: mapped pages count once touched.</li>
 * </ol>
 */
public final class Bench {
    /** The prompts timed: what a typical txt2img encodes. */
    static final String PROMPT = "a photograph of an astronaut riding a horse";
    static final String NEGATIVE_PROMPT = "";
    private static final double GUIDANCE = 7.5;
    private static final long WEIGHT_SEED = 20240101L;
    private static final long NOISE_SEED = 0L;
    private static final int WARMUP_VAE_LATENT = 8;

    private Bench() {
    }

    /**
     * @param arch      the architecture to build with random weights; ignored when {@code model} is given
     * @param model     a real checkpoint to time instead, or null
     * @param threads   worker threads, or 0 for the pool's current size
     * @param vaeTiling null for the untiled decode
     */
    public record Options(Arch arch, Path model, int width, int height, int steps, int threads, VaeTiling vaeTiling) {
        public Options {
            if (model == null && arch == null) throw new JDiffusionException("bench: give --arch or --model");
            requireSize("--width", width);
            requireSize("--height", height);
            if (steps < 1 || steps > 1000) throw new JDiffusionException("--steps: " + steps + " is not in 1..1000");
            if (threads < 0 || threads > 4096) throw new JDiffusionException("--threads: " + threads + " is not in 1..4096");
        }

        private static void requireSize(String option, int v) {
            if (v < 64 || v > 4096 || v % 8 != 0) {
                throw new JDiffusionException(option + ": " + v + " is not a multiple of 8 in 64..4096");
            }
        }
    }

    /**
     * What was measured. The first nine components are the JSON report; the rest is detail for the text one.
     *
     * @param unetStepS     mean wall time of one guided UNet step (batch 2)
     * @param unetGflops    counted FLOPs of a step / unetStepS / 1e9
     * @param peakRssMb     VmHWM at the end of the run, MiB
     * @param flops         FLOPs of one step by kind
     * @param rssAfterMb    VmHWM after each phase (generate, load, text, unet, vae), MiB
     * @param heapAllocatedPerStepMb heap allocated by all threads per timed UNet step, MiB (-1 unknown)
     * @param unetBusyCores process CPU time over wall time during the timed steps (-1 unknown)
     */
    public record Result(String arch, int width, int height, int threads, double textEncodeS, double unetStepS,
                         double vaeDecodeS, double unetGflops, double peakRssMb,
                         String source, long checkpointBytes, int steps, FlopCounter.Counts flops, double generateS,
                         double loadS, boolean vaeTiled, long maxHeapMb, Map<String, Double> rssAfterMb,
                         double heapAllocatedPerStepMb, double unetBusyCores) {

        /** The one-line JSON object of {@code --json}. */
        public String toJson() {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("arch", arch);
            o.put("width", width);
            o.put("height", height);
            o.put("threads", threads);
            o.put("text_encode_s", round(textEncodeS, 4));
            o.put("unet_step_s", round(unetStepS, 4));
            o.put("vae_decode_s", round(vaeDecodeS, 4));
            o.put("unet_gflops", round(unetGflops, 2));
            o.put("peak_rss_mb", round(peakRssMb, 1));
            return o.toString();
        }

        /** The human-readable report. */
        public String toText() {
            StringBuilder s = new StringBuilder();
            s.append(String.format(Locale.ROOT, "model:        %s (%s, %.2f GB)%n", arch, source, checkpointBytes / 1e9));
            s.append(String.format(Locale.ROOT, "size:         %dx%d, %d threads, max heap %d MiB%n", width, height, threads, maxHeapMb));
            if (generateS > 0) s.append(String.format(Locale.ROOT, "generate:     %.2f s (random weights written)%n", generateS));
            s.append(String.format(Locale.ROOT, "load:         %.2f s%n", loadS));
            s.append(String.format(Locale.ROOT, "text encoder: %.3f s (prompt + negative prompt)%n", textEncodeS));
            long total = flops.total();
            s.append(String.format(Locale.ROOT, "UNet step:    %.3f s (batch 2, mean of %d after 1 warm-up), %.3f TFLOP/step, %.1f GFLOP/s"
                            + " [conv %.0f %%, linear %.0f %%, attention %.0f %%]%n",
                    unetStepS, steps, total / 1e12, unetGflops,
                    percent(flops.conv(), total), percent(flops.linear(), total), percent(flops.attention(), total)));
            if (heapAllocatedPerStepMb >= 0) {
                s.append(String.format(Locale.ROOT, "UNet heap:    %.1f MiB allocated per step%n", heapAllocatedPerStepMb));
            }
            if (unetBusyCores >= 0) {
                s.append(String.format(Locale.ROOT, "UNet CPU:     %.2f cores busy on average (of %d threads)%n", unetBusyCores, threads));
            }
            s.append(String.format(Locale.ROOT, "VAE decode:   %.3f s%s%n", vaeDecodeS, vaeTiled ? " (tiled)" : ""));
            s.append(String.format(Locale.ROOT, "peak RSS:     %.0f MiB (after", peakRssMb));
            rssAfterMb.forEach((phase, mb) -> s.append(String.format(Locale.ROOT, " %s %.0f,", phase, mb)));
            s.setLength(s.length() - 1);
            s.append(")").append(System.lineSeparator());
            return s.toString();
        }

        private static double percent(long part, long total) {
            return total == 0 ? 0 : 100.0 * part / total;
        }
    }

    /** Runs the benchmark; {@code progress} receives one line per phase as it starts. */
    public static Result run(Options o, Consumer<String> progress) {
        if (o.threads > 0) Parallel.setThreads(o.threads);
        Map<String, Double> rss = new LinkedHashMap<>();

        String arch;
        String source;
        long bytes;
        double generateS = 0;
        Path file = null;
        LoadedModel model;
        double loadS;
        try {
            if (o.model != null) {
                progress.accept("loading " + o.model);
                long t0 = System.nanoTime();
                StableDiffusionModel m = ModelLoader.load(o.model);
                model = new LoadedModel(m);
                loadS = seconds(t0);
                arch = archOf(m);
                source = o.model.toString();
                bytes = Files.isRegularFile(o.model) ? Files.size(o.model) : 0;
            } else {
                OriginalLayout layout = o.arch.layout();
                arch = o.arch.id;
                bytes = layout.byteSize();
                source = "random fp16 weights, original layout, " + layout.tensors().size() + " tensors";
                checkLoaderAccepts(o.arch, layout);
                file = Files.createTempFile("jdiffusion-bench-" + arch + "-", ".safetensors");
                progress.accept(String.format(Locale.ROOT, "writing %s with random weights (%.2f GB) to %s", arch, bytes / 1e9, file));
                long t0 = System.nanoTime();
                RandomCheckpoint.write(file, layout.tensors(), WEIGHT_SEED);
                generateS = seconds(t0);
                rss.put("generate", ProcessMemory.peakRssMb());
                progress.accept("loading it");
                t0 = System.nanoTime();
                model = new LoadedModel(ModelLoader.load(file));
                loadS = seconds(t0);
                deleteQuietly(file); // mapped: the data stays readable until unmapped
                file = null;
            }
        } catch (IOException e) {
            throw new JDiffusionException("bench: " + e.getMessage());
        } finally {
            if (file != null) deleteQuietly(file);
        }
        rss.put("load", ProcessMemory.peakRssMb());

        progress.accept("text encoder");
        // the request a guided txt2img of this size would be; its conditioning is what the text encoders make
        Txt2ImgRequest request = new Txt2ImgRequest(Path.of(model.model().source()), null, PROMPT, NEGATIVE_PROMPT, "euler",
                o.steps, GUIDANCE, NOISE_SEED, o.width, o.height, 1, 1, null, false);
        OpProfile.section("text");
        Txt2Img.denoiser(model, request); // warm-up
        long t0 = System.nanoTime();
        NoisePredictor step = Txt2Img.denoiser(model, request);
        double textS = seconds(t0);
        rss.put("text", ProcessMemory.peakRssMb());

        int scale = model.vaeScale();
        Tensor latents = new TorchCpuRandom(NOISE_SEED).randn(1, model.latentChannels(), o.height / scale, o.width / scale);
        progress.accept(String.format(Locale.ROOT, "UNet warm-up step (%dx%d latents, batch 2)", o.width / scale, o.height / scale));
        OpProfile.section("unet warm-up");
        step.predict(latents, 999);
        OpProfile.section("unet");
        progress.accept("UNet: " + o.steps + " timed step" + (o.steps == 1 ? "" : "s"));
        FlopCounter.reset();
        FlopCounter.enable();
        long allocatedBefore = ProcessMemory.heapAllocatedBytes(), cpuBefore = ProcessMemory.processCpuNanos();
        double unetTotal = 0;
        try {
            for (int i = 0; i < o.steps; i++) {
                double timestep = 999.0 * (o.steps - i) / (o.steps + 1);
                t0 = System.nanoTime();
                step.predict(latents, timestep);
                unetTotal += seconds(t0);
            }
        } finally {
            FlopCounter.disable();
        }
        FlopCounter.Counts all = FlopCounter.counts();
        FlopCounter.Counts perStep = new FlopCounter.Counts(all.conv() / o.steps, all.linear() / o.steps, all.attention() / o.steps);
        double unetS = unetTotal / o.steps;
        long allocatedAfter = ProcessMemory.heapAllocatedBytes(), cpuAfter = ProcessMemory.processCpuNanos();
        // cores kept busy on average: near the thread count when the step runs in parallel as it should
        double busyCores = cpuBefore < 0 || cpuAfter < 0 ? -1 : (cpuAfter - cpuBefore) / 1e9 / unetTotal;
        double allocatedPerStepMb = allocatedBefore < 0 || allocatedAfter < 0 ? -1
                : (allocatedAfter - allocatedBefore) / (double) o.steps / (1 << 20);
        rss.put("unet", ProcessMemory.peakRssMb());
        // how fast this process's compiled code is: tells a slow process's weak spot (docs/PERFORMANCE.md)
        progress.accept(String.format(Locale.ROOT, "this process: weight conversion %.2f ns/element, FMA kernel %.0f GFLOP/s on one thread",
                KernelProbe.conversionNanos(largestWeight(model.model().unet())), KernelProbe.kernelGflops()));

        progress.accept("VAE decode" + (o.vaeTiling != null ? " (tiled)" : ""));
        OpProfile.section("vae warm-up");
        model.decode(new TorchCpuRandom(NOISE_SEED).randn(1, model.latentChannels(), WARMUP_VAE_LATENT, WARMUP_VAE_LATENT), o.vaeTiling);
        OpProfile.section("vae");
        t0 = System.nanoTime();
        model.decode(latents, o.vaeTiling);
        double vaeS = seconds(t0);
        OpProfile.section(null);
        rss.put("vae", ProcessMemory.peakRssMb());

        return new Result(arch, o.width, o.height, Parallel.threads(), textS, unetS, vaeS, perStep.total() / unetS / 1e9,
                ProcessMemory.peakRssMb(), source, bytes, o.steps, perStep, generateS, loadS, o.vaeTiling != null,
                Runtime.getRuntime().maxMemory() >> 20, rss, allocatedPerStepMb, busyCores);
    }

    /** The weight with the most elements (the conversion probe's subject). */
    private static Weight largestWeight(Weights weights) {
        Weight largest = null;
        for (String name : weights.names()) {
            Weight w = weights.get(name);
            if (largest == null || w.numel() > largest.numel()) largest = w;
        }
        return largest;
    }

    /**
     * Before writing gigabytes of random numbers: the layout's names and shapes, written as an all-zero
     * sparse file (no data is written), must load. Refused, the architecture is not supported by this build.
     */
    private static void checkLoaderAccepts(Arch arch, OriginalLayout layout) throws IOException {
        Path probe = Files.createTempFile("jdiffusion-bench-probe-", ".safetensors");
        try {
            RandomCheckpoint.writeZeros(probe, layout.tensors());
            new LoadedModel(ModelLoader.load(probe));
        } catch (JDiffusionException e) {
            String why = e.getMessage().replace(probe.toString() + ": ", "");
            throw new JDiffusionException("--arch " + arch.id + ": pending: this build cannot load the published "
                    + arch.id + " layout yet (" + why + ")");
        } finally {
            deleteQuietly(probe);
        }
    }

    /** The architecture id of a loaded model, from its family. */
    private static String archOf(StableDiffusionModel m) {
        return switch (m.family()) {
            case SD1 -> Arch.SD15.id;
            case SD2 -> Arch.SD21.id;
            case SDXL -> Arch.SDXL.id;
        };
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private static double round(double v, int decimals) {
        double f = Math.pow(10, decimals);
        return Math.round(v * f) / f;
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            p.toFile().deleteOnExit();
        }
    }
}
