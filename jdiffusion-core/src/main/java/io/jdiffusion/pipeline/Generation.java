package io.jdiffusion.pipeline;

import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.model.unet.UNet;
import io.jdiffusion.prompt.Embeddings;
import io.jdiffusion.prompt.PromptEmbedding;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.SamplerId;
import io.jdiffusion.sampling.Samplers;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.watermark.OutputWatermark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The steps every pipeline shares around its sampler: loading the model with its add-ons, the text
 * conditioning of a job (SD 1.x/2.x and SDXL alike), and turning the final latents into watermarked 8-bit
 * images with their infotext.
 */
final class Generation {
    private Generation() {
    }

    /**
     * The prompt's and the negative prompt's conditioning, one row per image of the batch: the
     * cross-attention contexts and, for SDXL, the added conditioning (pooled text, size/crop time ids). The
     * unconditional side is null without guidance (scale ≤ 1, as diffusers decides).
     */
    record Conditioning(Tensor cond, Tensor uncond, UNet.AddedConditioning addedCond, UNet.AddedConditioning addedUncond,
                        double cfgScale) {
        static Conditioning of(LoadedModel model, Txt2ImgRequest request) {
            int batch = request.batchSize(), clipSkip = request.clipSkip();
            boolean guided = request.cfgScale() > 1.0;
            Embeddings embeddings = Embeddings.load(request.embeddings());
            PromptEmbedding cond = model.encodePrompt(request.prompt(), clipSkip, embeddings);
            PromptEmbedding uncond = guided ? model.encodeNegativePrompt(request.negativePrompt(), clipSkip, embeddings) : null;
            if (uncond != null && uncond.context().dim(1) != cond.context().dim(1)) {
                // prompts of different chunk counts: the shorter is padded with empty-prompt chunks (A1111's
                // pad_cond_uncond), so both go through the UNet in one batch
                PromptEmbedding empty = model.encodePrompt("", clipSkip, Embeddings.NONE);
                int tokens = Math.max(cond.context().dim(1), uncond.context().dim(1));
                cond = cond.padTo(tokens, empty);
                uncond = uncond.padTo(tokens, empty);
            }
            UNet.AddedConditioning addedCond = null, addedUncond = null;
            if (model.sdxl() != null) {
                Tensor timeIds = repeat(request.sizeConditioningOrDefault().timeIds(), batch);
                addedCond = new UNet.AddedConditioning(repeat(cond.pooled(), batch), timeIds);
                if (guided) addedUncond = new UNet.AddedConditioning(repeat(uncond.pooled(), batch), timeIds);
            }
            model.releaseTextEncoderPages();
            return new Conditioning(repeat(cond.context(), batch), guided ? repeat(uncond.context(), batch) : null,
                    addedCond, addedUncond, request.cfgScale());
        }

        NoisePredictor predictor(LoadedModel model) {
            return predictor(model, null);
        }

        /** For inpainting models: the UNet also sees {@code extraChannels} after the latents (null for none). */
        NoisePredictor predictor(LoadedModel model, Tensor extraChannels) {
            return model.guided(uncond, cond, addedUncond, addedCond, cfgScale, extraChannels);
        }
    }

    /** Loads the job's model with its add-ons, after checking what can be checked without it (so a bad sampler fails fast). */
    static LoadedModel load(Txt2ImgRequest request, ModelAddons addons) {
        SamplerId.parse(request.sampler());
        StableDiffusionModel model = ModelLoader.load(request.model(), request.configDir());
        if (request.predictionType() != null) model = model.withPredictionType(request.predictionType());
        return new LoadedModel(addons.apply(model), addons.attentionInputs());
    }

    static Sampler sampler(LoadedModel model, Txt2ImgRequest request) {
        return Samplers.create(request.sampler(), model.model().scheduler(), request.steps());
    }

    /** [1, ...] → [n, ...]: the same tensor for every image of the batch. */
    static Tensor repeat(Tensor t, int n) {
        if (t.dim(0) == n) return t;
        Tensor[] copies = new Tensor[n];
        Arrays.fill(copies, t);
        return Tensor.cat0(copies);
    }

    /** The channels a 9-channel inpainting UNet takes after the latents: mask ‖ masked-image latents. */
    static Tensor inpaintingChannels(Tensor latentMask, Tensor maskedImageLatents) {
        return Ops.concatChannels(latentMask, maskedImageLatents);
    }

    /**
     * Decodes the latents and makes the images: the invisible watermark the reference scripts add goes on the
     * generated image (unless the request says no or the image is too small), then {@code finish} may change
     * each image's pixels (the inpainting overlay pastes the original back, unmarked as it was);
     * {@code extraParameters} are added to the txt2img infotext ({@code null} values are left out).
     */
    static List<GeneratedImage> images(LoadedModel model, Txt2ImgRequest request, Tensor latents,
                                       Map<String, String> extraParameters, UnaryOperator<byte[]> finish) {
        return images(model, request, request, latents, extraParameters, finish);
    }

    /**
     * As {@link #images(LoadedModel, Txt2ImgRequest, Tensor, Map, UnaryOperator)} for images of {@code request}'s
     * size whose infotext describes {@code described} (the hires fix writes its first pass's size, as A1111 does).
     */
    static List<GeneratedImage> images(LoadedModel model, Txt2ImgRequest request, Txt2ImgRequest described, Tensor latents,
                                       Map<String, String> extraParameters, UnaryOperator<byte[]> finish) {
        int w = request.width(), h = request.height();
        OutputWatermark mark = OutputWatermark.choose(request.watermark(), model.model().family(), w, h);
        byte[][] rgb = LoadedModel.toRgb8(mark.onDecoded(model.decode(latents)));
        Map<String, String> extra = new LinkedHashMap<>(extraParameters);
        if (mark.message() != null) extra.put(OutputWatermark.INFOTEXT_KEY, mark.message().name());
        Infotext base = Infotext.forTxt2Img(described, request.seed(), model.modelHash(), Infotext.modelName(request.model()));
        // one noise draw covers the batch (as diffusers does), so every image is reproduced by the same seed and batch size
        String infotext = withParameters(base, extra).format();
        List<GeneratedImage> images = new ArrayList<>(rgb.length);
        for (byte[] pixels : rgb) {
            images.add(new GeneratedImage(w, h, finish.apply(mark.onRgb8(pixels, w, h)), request.seed(), infotext));
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
