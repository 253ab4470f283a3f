package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Text to image with a refiner taking over part way, SDXL's "ensemble of experts" (A1111's "Refiner" with
 * "Switch at"): the base model denoises the first part of the schedule, the refiner continues from the same
 * latents, in the same schedule, with its own conditioning (the SDXL refiner: OpenCLIP ViT-bigG alone and the
 * aesthetic scores), and its VAE decodes the result.
 *
 * <p>The split is diffusers' {@code denoising_end = switchAt} on the base pipeline and {@code denoising_start =
 * switchAt} on the refiner's img2img pipeline: the timesteps below ⌊T − switchAt·T⌉ (T the training timesteps,
 * 1000) are the refiner's, the others the base's. The refiner's sampler starts afresh at its first timestep
 * (no multistep history carries over), no noise is added in between, and the one seeded generator serves both
 * (its draws continue where the base stopped, as when both diffusers pipelines get the same generator). With a
 * second-order sampler (Heun, DPM2) diffusers' base would also run the first half of the refiner's first step;
 * here the base stops at the step boundary where the refiner starts.
 *
 * <p>A1111 (1.6 and later) switches inside one k-diffusion sampler run: before each step whose timestep is at
 * most 999 − 1000·switchAt (or, with its "switch by sampling steps" option, after that fraction of the steps)
 * it swaps in the refiner, so a multistep sampler keeps its history across the switch; the split of the
 * timesteps agrees with this one except for fractional timesteps in the one-step band between the two rules.
 */
public final class Refiner {
    /** A1111's and diffusers' usual hand-over point: the refiner runs the last fifth of the schedule. */
    public static final double DEFAULT_SWITCH_AT = 0.8;

    private Refiner() {
    }

    /**
     * The refiner of a txt2img run.
     *
     * @param model    the refiner (usually stabilityai/stable-diffusion-xl-refiner-1.0): file or diffusers folder
     * @param switchAt the fraction of the schedule the base runs, in (0, 1)
     */
    public record Settings(Path model, double switchAt) {
        /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value. */
        public Settings validate() {
            if (model == null) throw new JDiffusionException("--refiner: no refiner model given");
            if (!(switchAt > 0 && switchAt < 1)) {
                throw new JDiffusionException("--refiner-switch-at: " + switchAt + " is outside (0, 1)");
            }
            return this;
        }
    }

    /** Loads the base (with its add-ons) and the refiner, then runs. */
    public static List<GeneratedImage> run(Txt2ImgRequest request, Settings settings, ModelAddons addons, StepListener listener) {
        request.validate();
        settings.validate();
        LoadedModel base = Generation.load(request, addons);
        LoadedModel refiner = new LoadedModel(ModelLoader.load(settings.model()));
        return run(base, refiner, request, settings.switchAt(), listener);
    }

    /**
     * Runs the request on loaded models: {@code base} from the seeded noise to the switch, {@code refiner} from
     * there to the end. The listener sees the evaluations of both in one count and may stop the run.
     */
    public static List<GeneratedImage> run(LoadedModel base, LoadedModel refiner, Txt2ImgRequest request, double switchAt,
                                           StepListener listener) {
        request.validate();
        new Settings(Path.of(refiner.model().source()), switchAt).validate();
        if (refiner.latentChannels() != base.latentChannels() || refiner.vaeScale() != base.vaeScale()) {
            throw new JDiffusionException("--refiner: " + refiner.model().source() + " has " + refiner.latentChannels()
                    + " latent channels at 1/" + refiner.vaeScale() + " scale, the model " + base.latentChannels() + " at 1/"
                    + base.vaeScale() + "; a refiner must share the model's latent space");
        }
        Generation.Conditioning baseText = Generation.Conditioning.of(base, request);
        Generation.Conditioning refinerText = Generation.Conditioning.of(refiner, request);
        Sampler baseSampler = Generation.sampler(base, request);
        Sampler refinerSampler = Generation.sampler(refiner, request);
        int baseEnd = baseSampler.timesteps().length - refinerEvaluations(baseSampler, trainTimesteps(base), switchAt);
        int refinerEvaluations = refinerEvaluations(refinerSampler, trainTimesteps(refiner), switchAt);
        int refinerStart = refinerSampler.timesteps().length - refinerEvaluations;
        if (refinerEvaluations == 0) {
            throw new JDiffusionException("--refiner-switch-at: " + switchAt + " leaves no step of " + request.steps() + " to the refiner");
        }
        if (baseEnd <= 0) {
            throw new JDiffusionException("--refiner-switch-at: " + switchAt + " leaves no step of " + request.steps() + " to the model");
        }

        int total = baseEnd + refinerEvaluations;
        StepListener progress = listener == null ? StepListener.NONE : listener;
        boolean[] stopped = {false};
        StepListener untilSwitch = (step, all, latents) -> {
            stopped[0] = !progress.onStep(step, total, latents);
            return !stopped[0] && step < baseEnd;
        };
        StepListener afterSwitch = (step, all, latents) -> progress.onStep(baseEnd + step, total, latents);

        TorchCpuRandom rng = new TorchCpuRandom(request.seed());
        int scale = base.vaeScale();
        Tensor noise = rng.randn(request.batchSize(), base.latentChannels(), request.height() / scale, request.width() / scale);
        Tensor latents = baseSampler.sample(baseText.predictor(base), noise, rng, untilSwitch);
        if (!stopped[0]) latents = refinerSampler.denoise(refinerText.predictor(refiner), latents, refinerStart, rng, null, afterSwitch);
        return Generation.images(base, refiner, request, request, latents, parameters(refiner, switchAt), UnaryOperator.identity());
    }

    /**
     * How many of the sampler's evaluations fall to the refiner: diffusers' denoising_start rule, the timesteps
     * below the cutoff, made odd for a second-order sampler so that the refiner starts with a whole step.
     */
    static int refinerEvaluations(Sampler sampler, int trainTimesteps, double switchAt) {
        // Python's round(): halves to even, as Math.rint
        double cutoff = Math.rint(trainTimesteps - switchAt * trainTimesteps);
        int count = 0;
        for (double t : sampler.timesteps()) if (t < cutoff) count++;
        if (sampler.order() == 2 && count % 2 == 0) count++;
        return Math.min(count, sampler.timesteps().length);
    }

    private static int trainTimesteps(LoadedModel model) {
        return model.model().scheduler().intOr("num_train_timesteps", 1000);
    }

    /** A1111's infotext entries for the refiner: its name and hash, and where it took over. */
    static Map<String, String> parameters(LoadedModel refiner, double switchAt) {
        Map<String, String> p = new LinkedHashMap<>();
        String hash = refiner.modelHash();
        String name = Infotext.modelName(Path.of(refiner.model().source()));
        p.put("Refiner", hash == null ? name : name + " [" + hash + "]");
        p.put("Refiner switch at", Infotext.formatNumber(switchAt));
        return p;
    }
}
