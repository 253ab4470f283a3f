package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Depth to image with the SD 2 depth model, as diffusers' StableDiffusionDepth2ImgPipeline computes it: img2img
 * (posterior sample of the init image, then noise to the strength's first step) where every UNet call also
 * sees the depth channel after the latents — the given depth map, or the DPT estimate of the init image,
 * resized to the latent size and normalised to [-1, 1].
 */
public final class Depth2Img {
    private Depth2Img() {
    }

    public static List<GeneratedImage> run(Depth2ImgRequest request, StepListener listener) {
        return run(request, ModelAddons.NONE, listener);
    }

    public static List<GeneratedImage> run(Depth2ImgRequest request, ModelAddons addons, StepListener listener) {
        request.validate();
        return run(Generation.load(request.resolvedParams(), addons), request, listener);
    }

    /** Runs the request on an already loaded model. */
    public static List<GeneratedImage> run(LoadedModel model, Depth2ImgRequest request, StepListener listener) {
        request.validate();
        int latent = model.latentChannels();
        if (model.unetInChannels() != latent + 1) {
            throw new JDiffusionException(model.model().source() + ": the UNet takes " + model.unetInChannels()
                    + " input channels; depth2img needs a depth model (" + (latent + 1) + ": latents + depth)");
        }
        Img2ImgRequest img2img = request.img2img();
        Txt2ImgRequest params = img2img.resolvedParams();
        Tensor depth = request.depthMap() != null ? request.depthMap()
                : estimator(params.model(), request.depthModel()).estimate(img2img.initImage());
        int scale = model.vaeScale();
        Tensor depthMask = Generation.repeat(DepthMaps.depthMask(depth, params.height() / scale, params.width() / scale),
                params.batchSize());

        RgbImage init = ImageResize.resize(img2img.initImage(), params.width(), params.height(), img2img.resizeMode());
        Generation.Conditioning text = Generation.Conditioning.of(model, params);
        Sampler sampler = Generation.sampler(model, params);
        int start = sampler.startIndex(img2img.strength());
        TorchCpuRandom rng = new TorchCpuRandom(params.seed());
        Tensor clean = Generation.repeat(model.encodeImage(init.toTensor(), rng), params.batchSize());
        Tensor noise = rng.randn(clean.shape);
        Tensor latents = sampler.denoise(text.predictor(model, depthMask), sampler.addNoise(clean, noise, start), start, rng,
                null, listener);
        Map<String, String> extra = new java.util.LinkedHashMap<>(Img2Img.parameters(img2img.strength()));
        extra.put("Depth", request.depthMap() != null ? "map" : "estimated");
        return Generation.images(model, params, latents, extra, UnaryOperator.identity());
    }

    /** The explicit estimator folder, else the model folder's depth_estimator/. */
    static DepthMaps.Estimator estimator(Path model, Path depthModel) {
        if (depthModel != null) return DepthMaps.Estimator.load(depthModel, "--depth-model");
        if (model != null && Files.isDirectory(model.resolve("depth_estimator"))) {
            return DepthMaps.Estimator.load(model, "--model");
        }
        throw new JDiffusionException("--depth-map: " + model + " carries no depth estimator; give --depth-map IMAGE or --depth-model DIR");
    }
}
