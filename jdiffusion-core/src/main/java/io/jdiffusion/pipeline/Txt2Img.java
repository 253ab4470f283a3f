package io.jdiffusion.pipeline;

import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;

import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Text to image, as diffusers' StableDiffusionPipeline (and StableDiffusionXLPipeline, through
 * {@link SdxlConditioning}) computes it: encode the prompt and the negative prompt, draw the whole
 * batch's initial noise from the seeded torch-compatible generator, run the sampler over the guided
 * UNet, decode with the VAE, watermark, round to 8 bits.
 */
public final class Txt2Img {
    private Txt2Img() {
    }

    /** Loads the request's model and runs it; returns one image per batch entry, in order. */
    public static List<GeneratedImage> run(Txt2ImgRequest request, StepListener listener) {
        return run(request, ModelAddons.NONE, listener);
    }

    /** Loads the request's model, puts the add-ons on it (another VAE, LoRAs, hypernetworks) and runs it. */
    public static List<GeneratedImage> run(Txt2ImgRequest request, ModelAddons addons, StepListener listener) {
        request.validate();
        return run(Generation.load(request, addons), request, listener);
    }

    /**
     * Runs the request on an already loaded model (the server keeps one loaded). The listener sees every
     * step's latents (previews) and may stop the run early, which decodes the latents as they are.
     */
    public static List<GeneratedImage> run(LoadedModel model, Txt2ImgRequest request, StepListener listener) {
        return run(model, request, null, listener);
    }

    /**
     * The guided network a run of this request samples with: its prompts encoded (both text encoders and
     * the added conditioning for SDXL) and classifier-free guidance around the UNet. For timing one step.
     */
    public static NoisePredictor denoiser(LoadedModel model, Txt2ImgRequest request) {
        return Generation.Conditioning.of(model, request.validate()).predictor(model);
    }

    /** Loads the request's model, puts the add-ons on it and runs it with the hires fix (null for none). */
    public static List<GeneratedImage> run(Txt2ImgRequest request, HiresFix hires, ModelAddons addons, StepListener listener) {
        request.validate();
        if (hires != null) hires.validate(request);
        return run(Generation.load(request, addons), request, hires, listener);
    }

    /**
     * Runs the request on an already loaded model, with A1111's hires fix when {@code hires} is not null: the
     * images then have the hires fix's target size ({@link HiresFix}).
     */
    public static List<GeneratedImage> run(LoadedModel model, Txt2ImgRequest request, HiresFix hires, StepListener listener) {
        if (hires != null) return hires.run(model, request, listener);
        request.validate();
        // prompt language, embeddings, cond/uncond of equal length, SDXL's added conditioning; no unconditional pass without guidance
        Generation.Conditioning text = Generation.Conditioning.of(model, request);

        Sampler sampler = Generation.sampler(model, request);
        TorchCpuRandom rng = new TorchCpuRandom(request.seed());
        int scale = model.vaeScale();
        Tensor noise = rng.randn(request.batchSize(), model.latentChannels(), request.height() / scale, request.width() / scale);
        Tensor extra = Generation.channelsWithoutPicture(model, request.batchSize(), request.width(), request.height(), rng);
        Tensor latents = sampler.sample(text.predictor(model, extra), noise, rng, listener);
        return Generation.images(model, request, latents, Map.of(), UnaryOperator.identity());
    }
}
