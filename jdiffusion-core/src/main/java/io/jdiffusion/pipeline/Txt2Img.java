package io.jdiffusion.pipeline;

import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.SamplerId;
import io.jdiffusion.sampling.Samplers;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Text to image, as diffusers' StableDiffusionPipeline computes it: encode the prompt and the negative
 * prompt, draw the whole batch's initial noise from the seeded torch-compatible generator, run the
 * sampler over the guided UNet, decode with the VAE, round to 8 bits.
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
        // prompt language, embeddings, cond/uncond of equal length; no unconditional pass without guidance
        Generation.Conditioning text = Generation.Conditioning.of(model, request);

        Sampler sampler = Samplers.create(request.sampler(), model.model().scheduler(), request.steps());
        TorchCpuRandom rng = new TorchCpuRandom(request.seed());
        int scale = model.vaeScale();
        Tensor noise = rng.randn(batch, model.latentChannels(), request.height() / scale, request.width() / scale);
        Tensor latents = sampler.sample(text.predictor(model), noise, rng, listener);

        byte[][] rgb = LoadedModel.toRgb8(model.decode(latents));
        String hash = model.modelHash();
        String name = Infotext.modelName(request.model());
        List<GeneratedImage> images = new ArrayList<>(batch);
        for (byte[] pixels : rgb) {
            // One noise draw covers the batch (as diffusers does), so every image is reproduced by the same seed and batch size.
            String infotext = Infotext.forTxt2Img(request, request.seed(), hash, name).format();
            images.add(new GeneratedImage(request.width(), request.height(), pixels, request.seed(), infotext));
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
