package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Image to image, as diffusers' StableDiffusionImg2ImgPipeline computes it: the init image, brought to the
 * output size, goes to [-1, 1] and through the VAE encoder; a sample of its posterior (drawn from the seeded
 * generator first) times the latent scale is the clean start, noised with the next draw to the level of
 * the first step the strength keeps, and denoised from there.
 *
 * <p>With an inpainting model (9 input channels) this is inpainting with everything masked, as A1111 runs
 * img2img on such models.
 */
public final class Img2Img {
    private Img2Img() {
    }

    /** Loads the request's model and runs it; returns one image per batch entry, in order. */
    public static List<GeneratedImage> run(Img2ImgRequest request, StepListener listener) {
        return run(request, ModelAddons.NONE, listener);
    }

    /** Loads the request's model, puts the add-ons on it (another VAE, LoRAs, hypernetworks) and runs it. */
    public static List<GeneratedImage> run(Img2ImgRequest request, ModelAddons addons, StepListener listener) {
        request.validate();
        return run(Generation.load(request.params(), addons), request, listener);
    }

    /** Runs the request on an already loaded model; the listener sees every step and may stop the run. */
    public static List<GeneratedImage> run(LoadedModel model, Img2ImgRequest request, StepListener listener) {
        request.validate();
        Txt2ImgRequest params = request.resolvedParams();
        RgbImage init = ImageResize.resize(request.initImage(), params.width(), params.height(), request.resizeMode());
        if (model.unetInChannels() != model.latentChannels()) {
            // an inpainting model: repaint everything, no overlay
            byte[] everything = new byte[params.width() * params.height()];
            java.util.Arrays.fill(everything, (byte) 255);
            return Inpaint.run(model, params, init, everything, null, request.strength(), MaskedContent.ORIGINAL, Map.of(),
                    listener);
        }
        Generation.Conditioning text = Generation.Conditioning.of(model, params);
        Sampler sampler = Generation.sampler(model, params);
        int start = sampler.startIndex(request.strength());

        TorchCpuRandom rng = new TorchCpuRandom(params.seed());
        // one posterior sample for the init image, shared by the batch (diffusers encodes the single image once)
        Tensor clean = Generation.repeat(model.encodeImage(init.toTensor(), rng), params.batchSize());
        Tensor noise = rng.randn(clean.shape);
        Tensor latents = sampler.denoise(text.predictor(model), sampler.addNoise(clean, noise, start), start, rng, null, listener);
        return Generation.images(model, params, latents, parameters(request.strength()), UnaryOperator.identity());
    }

    /** What img2img adds to the infotext. */
    static Map<String, String> parameters(double strength) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("Denoising strength", Infotext.formatNumber(strength));
        return p;
    }

    static void requireKnownUNet(LoadedModel model) {
        int in = model.unetInChannels(), latent = model.latentChannels();
        if (in == latent + 1) {
            throw new JDiffusionException(model.model().source() + ": a depth model (the UNet takes " + in
                    + " input channels: latents + depth); use depth2img with it");
        }
        if (in != latent && in != 2 * latent + 1) {
            throw new JDiffusionException(model.model().source() + ": the UNet takes " + in + " input channels; image pipelines need "
                    + latent + " (an ordinary model) or " + (2 * latent + 1) + " (an inpainting model)");
        }
    }
}
