package io.jdiffusion.pipeline;

import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.SamplerId;
import io.jdiffusion.sampling.Samplers;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.watermark.OutputWatermark;

import java.util.ArrayList;
import java.util.List;

/**
 * Text to image, as diffusers' StableDiffusionPipeline (and StableDiffusionXLPipeline, through
 * {@link SdxlConditioning}) computes it: encode the prompt and the negative prompt, draw the whole
 * batch's initial noise from the seeded torch-compatible generator, run the sampler over the guided
 * UNet, decode with the VAE, round to 8 bits.
 */
public final class Txt2Img {
    private Txt2Img() {
    }

    /** Loads the request's model and runs it; returns one image per batch entry, in order. */
    public static List<GeneratedImage> run(Txt2ImgRequest request, StepListener listener) {
        request.validate();
        SamplerId.parse(request.sampler()); // an unknown sampler fails before the model loads
        StableDiffusionModel model = ModelLoader.load(request.model(), request.configDir());
        if (request.predictionType() != null) model = model.withPredictionType(request.predictionType());
        return run(new LoadedModel(model), request, listener);
    }

    /**
     * Runs the request on an already loaded model (the server keeps one loaded). The listener sees every
     * step's latents (previews) and may stop the run early, which decodes the latents as they are.
     */
    public static List<GeneratedImage> run(LoadedModel model, Txt2ImgRequest request, StepListener listener) {
        request.validate();
        int batch = request.batchSize();
        boolean guided = request.cfgScale() > 1.0; // diffusers skips the unconditional pass otherwise
        NoisePredictor denoiser;
        if (model.sdxl() != null) {
            denoiser = model.guidedSdxl(request.prompt(), request.negativePrompt(), request.cfgScale(),
                    request.sizeConditioningOrDefault(), batch);
        } else {
            Tensor cond = repeat(model.encodePrompt(request.prompt(), request.clipSkip()), batch);
            Tensor uncond = guided ? repeat(model.encodePrompt(request.negativePrompt(), request.clipSkip()), batch) : null;
            denoiser = model.guided(uncond, cond, request.cfgScale());
        }

        Sampler sampler = Samplers.create(request.sampler(), model.model().scheduler(), request.steps());
        TorchCpuRandom rng = new TorchCpuRandom(request.seed());
        int scale = model.vaeScale();
        Tensor noise = rng.randn(batch, model.latentChannels(), request.height() / scale, request.width() / scale);
        Tensor latents = sampler.sample(denoiser, noise, rng, listener);

        // the invisible watermark the reference scripts add, unless the request says no or the image is too small
        OutputWatermark mark = OutputWatermark.choose(request.watermark(), model.model().family(), request.width(), request.height());
        byte[][] rgb = LoadedModel.toRgb8(mark.onDecoded(model.decode(latents)));
        String hash = model.modelHash();
        String name = Infotext.modelName(request.model());
        List<GeneratedImage> images = new ArrayList<>(batch);
        for (byte[] pixels : rgb) {
            // One noise draw covers the batch (as diffusers does), so every image is reproduced by the same seed and batch size.
            Infotext infotext = Infotext.forTxt2Img(request, request.seed(), hash, name);
            if (mark.message() != null) infotext = infotext.with(OutputWatermark.INFOTEXT_KEY, mark.message().name());
            images.add(new GeneratedImage(request.width(), request.height(),
                    mark.onRgb8(pixels, request.width(), request.height()), request.seed(), infotext.format()));
        }
        return images;
    }

    /** [1, T, C] → [n, T, C], the same conditioning for every image of the batch. */
    static Tensor repeat(Tensor t, int n) {
        Tensor[] copies = new Tensor[n];
        java.util.Arrays.fill(copies, t);
        return Tensor.cat0(copies);
    }
}
