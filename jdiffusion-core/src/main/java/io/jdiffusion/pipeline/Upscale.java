package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.UNetConfig;
import io.jdiffusion.model.UpscalerConfig;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.sampling.ForwardNoising;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;

import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Upscaling with the SD x4 upscaler, as diffusers' StableDiffusionUpscalePipeline computes it. The picture goes to
 * [-1, 1] at its own size (each side rounded down to a multiple of the VAE factor, resized with Pillow's bicubic
 * filter if that changed it) and gets noise at the requested level through the model's low-resolution schedule
 * (drawn from the seeded generator first). Latents of the picture's size are drawn next and denoised from pure
 * noise; at every step the UNet sees the (input-scaled) latents with the noised picture concatenated after them,
 * the same for the conditional and the unconditional half, and the noise level as its class label. The VAE, with
 * its own scaling factor, decodes them to the picture's size times its factor.
 */
public final class Upscale {
    /** The x4 upscaler's UNet input beyond the latents: the low-resolution RGB picture. */
    private static final int IMAGE_CHANNELS = 3;

    private Upscale() {
    }

    /** Loads the request's model and runs it; returns one image per batch entry, in order. */
    public static List<GeneratedImage> run(UpscaleRequest request, StepListener listener) {
        return run(request, ModelAddons.NONE, listener);
    }

    /** Loads the request's model, puts the add-ons on it (LoRAs, another VAE, ...) and runs it. */
    public static List<GeneratedImage> run(UpscaleRequest request, ModelAddons addons, StepListener listener) {
        request.validate();
        return run(Generation.load(request.params(), addons), request, listener);
    }

    /** Runs the request on an already loaded model; the listener sees every step and may stop the run. */
    public static List<GeneratedImage> run(LoadedModel model, UpscaleRequest request, StepListener listener) {
        request.validate();
        requireUpscaler(model);
        UpscalerConfig upscaler = UpscalerConfig.of(model.model());
        int noiseLevel = request.noiseLevel();
        if (noiseLevel > upscaler.maxNoiseLevel()) {
            throw new JDiffusionException("--noise-level: " + noiseLevel + " is above the model's max_noise_level " + upscaler.maxNoiseLevel());
        }
        if (noiseLevel >= model.model().unetConfig().numClassEmbeds()) {
            throw new JDiffusionException("--noise-level: " + noiseLevel + " is beyond the UNet's " + model.model().unetConfig().numClassEmbeds()
                    + " noise-level embeddings");
        }
        int factor = model.vaeScale();
        int[] size = request.inputSize(factor);
        Txt2ImgRequest params = request.resolvedParams(factor);
        RgbImage image = request.image();
        if (image.width() != size[0] || image.height() != size[1]) {
            image = new RgbImage(size[0], size[1], ImageResize.bicubic(image.rgb(), 3, image.width(), image.height(), size[0], size[1]));
        }

        Generation.Conditioning text = Generation.Conditioning.of(model, params);
        Sampler sampler = Generation.sampler(model, params);
        TorchCpuRandom rng = new TorchCpuRandom(params.seed());
        // the picture's noise comes first, once for the batch; then the latents' (diffusers' order)
        Tensor picture = image.toTensor();
        Tensor noisedPicture = ForwardNoising.addNoise(upscaler.lowResScheduler(), picture, rng.randn(picture.shape), noiseLevel);
        Tensor noise = rng.randn(params.batchSize(), model.latentChannels(), size[1], size[0]);
        Tensor latents = sampler.sample(text.predictor(model, Generation.repeat(noisedPicture, params.batchSize()), noiseLevel),
                noise, rng, listener);
        return Generation.images(model, params, latents, Map.of("Noise level", Integer.toString(noiseLevel)), UnaryOperator.identity());
    }

    /** Refuses a model whose UNet does not take a low-resolution picture and a noise level. */
    static void requireUpscaler(LoadedModel model) {
        UNetConfig unet = model.model().unetConfig();
        int expected = model.latentChannels() + IMAGE_CHANNELS;
        if (unet.inChannels() != expected || unet.numClassEmbeds() == 0) {
            throw new JDiffusionException(model.model().source() + ": not an upscaler model: its UNet takes " + unet.inChannels()
                    + " input channels" + (unet.numClassEmbeds() == 0 ? " and no noise level" : "") + "; upscale needs the SD x4 upscaler ("
                    + expected + ": latents + low-resolution RGB, with noise-level embeddings)");
        }
    }
}
