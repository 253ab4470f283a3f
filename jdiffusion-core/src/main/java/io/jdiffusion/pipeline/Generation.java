package io.jdiffusion.pipeline;

import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.prompt.Embeddings;
import io.jdiffusion.prompt.PromptEmbedding;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.SamplerId;
import io.jdiffusion.sampling.Samplers;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The steps every pipeline shares around its sampler: the text conditioning of a job, and turning the
 * final latents into 8-bit images with their infotext.
 */
final class Generation {
    private Generation() {
    }

    /**
     * The prompt's and the negative prompt's conditioning, one row per image of the batch; uncond is null
     * without guidance (scale ≤ 1, as diffusers decides).
     */
    record Conditioning(Tensor cond, Tensor uncond, double cfgScale) {
        static Conditioning of(LoadedModel model, Txt2ImgRequest request) {
            int batch = request.batchSize(), clipSkip = request.clipSkip();
            boolean guided = request.cfgScale() > 1.0;
            Embeddings embeddings = Embeddings.load(request.embeddings());
            Tensor cond = model.encodePrompt(request.prompt(), clipSkip, embeddings);
            Tensor uncond = guided ? model.encodePrompt(request.negativePrompt(), clipSkip, embeddings) : null;
            if (uncond != null && uncond.dim(1) != cond.dim(1)) {
                // prompts of different chunk counts: the shorter is padded with empty-prompt chunks (A1111's
                // pad_cond_uncond), so both go through the UNet in one batch
                Tensor empty = model.encodePrompt("", clipSkip);
                int tokens = Math.max(cond.dim(1), uncond.dim(1));
                cond = PromptEmbedding.padContext(cond, tokens, empty);
                uncond = PromptEmbedding.padContext(uncond, tokens, empty);
            }
            return new Conditioning(Txt2Img.repeat(cond, batch), guided ? Txt2Img.repeat(uncond, batch) : null,
                    request.cfgScale());
        }

        NoisePredictor predictor(LoadedModel model) {
            return model.guided(uncond, cond, cfgScale);
        }

        /** For inpainting models: the UNet also sees {@code extraChannels} after the latents. */
        NoisePredictor predictor(LoadedModel model, Tensor extraChannels) {
            return model.guided(uncond, cond, cfgScale, extraChannels);
        }
    }

    /** Loads the job's model, after checking what can be checked without it (so a bad sampler fails fast). */
    static LoadedModel load(Txt2ImgRequest request) {
        SamplerId.parse(request.sampler());
        StableDiffusionModel model = ModelLoader.load(request.model(), request.configDir());
        if (request.predictionType() != null) model = model.withPredictionType(request.predictionType());
        return new LoadedModel(model);
    }

    static Sampler sampler(LoadedModel model, Txt2ImgRequest request) {
        return Samplers.create(request.sampler(), model.model().scheduler(), request.steps());
    }

    /** [1, ...] → [n, ...]: the same tensor for every image of the batch. */
    static Tensor repeat(Tensor t, int n) {
        return t.dim(0) == n ? t : Txt2Img.repeat(t, n);
    }

    /** The channels a 9-channel inpainting UNet takes after the latents: mask ‖ masked-image latents. */
    static Tensor inpaintingChannels(Tensor latentMask, Tensor maskedImageLatents) {
        return Ops.concatChannels(latentMask, maskedImageLatents);
    }

    /**
     * Decodes the latents and makes the images: {@code finish} may change each image's pixels (the inpainting
     * overlay); {@code extraParameters} are added to the txt2img infotext ({@code null} values are left out).
     */
    static List<GeneratedImage> images(LoadedModel model, Txt2ImgRequest request, Tensor latents,
                                       Map<String, String> extraParameters, UnaryOperator<byte[]> finish) {
        byte[][] rgb = LoadedModel.toRgb8(model.decode(latents));
        String hash = model.modelHash();
        String name = Infotext.modelName(request.model());
        Infotext base = Infotext.forTxt2Img(request, request.seed(), hash, name);
        String infotext = withParameters(base, extraParameters).format();
        List<GeneratedImage> images = new ArrayList<>(rgb.length);
        for (byte[] pixels : rgb) {
            images.add(new GeneratedImage(request.width(), request.height(), finish.apply(pixels), request.seed(), infotext));
        }
        return images;
    }

    /** Parameters A1111 writes among its own (before "Clip skip"); others are extras, written last (before "Version"). */
    private static final java.util.Set<String> CORE_PARAMETERS = java.util.Set.of("Denoising strength");

    /**
     * The infotext with more parameters, placed where A1111 writes them: "Denoising strength" before
     * "Clip skip" (or whatever follows it), extras such as "Mask blur" at the end before "Version".
     */
    static Infotext withParameters(Infotext base, Map<String, String> extra) {
        Map<String, String> core = new LinkedHashMap<>(), rest = new LinkedHashMap<>();
        extra.forEach((k, v) -> (CORE_PARAMETERS.contains(k) ? core : rest).put(k, v));
        Map<String, String> out = new LinkedHashMap<>();
        boolean corePlaced = false, restPlaced = false;
        for (Map.Entry<String, String> e : base.parameters().entrySet()) {
            String key = e.getKey();
            if (!corePlaced && (key.equals("Clip skip") || key.equals("RNG") || key.equals("Version"))) {
                putAll(out, core);
                corePlaced = true;
            }
            if (!restPlaced && key.equals("Version")) {
                putAll(out, rest);
                restPlaced = true;
            }
            out.put(key, e.getValue());
        }
        if (!corePlaced) putAll(out, core);
        if (!restPlaced) putAll(out, rest);
        return new Infotext(base.prompt(), base.negativePrompt(), out);
    }

    private static void putAll(Map<String, String> out, Map<String, String> extra) {
        extra.forEach((k, v) -> {
            if (v != null) out.put(k, v);
        });
    }
}
