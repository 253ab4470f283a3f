package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.addon.ExtraNetworks;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.model.unet.UNet;
import io.jdiffusion.prompt.Embeddings;
import io.jdiffusion.prompt.PromptEmbedding;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.NoiseSource;
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
            Embeddings embeddings = model.usable(Embeddings.load(request.embeddings()));
            // the prompt keeps its <lora:...>/<hypernet:...> tags for the infotext, as A1111 writes it; whoever
            // built the request applied them to the model, and they are not text for the encoder
            String prompt = ExtraNetworks.extract(request.prompt()).prompt();
            PromptEmbedding cond, uncond = null;
            if (guided) {
                List<PromptEmbedding> both = model.encodePromptAndNegative(prompt, request.negativePrompt(), clipSkip, embeddings);
                cond = both.get(0);
                uncond = both.get(1);
            } else {
                cond = model.encodePrompt(prompt, clipSkip, embeddings);
            }
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
                SizeConditioning size = request.sizeConditioningOrDefault();
                // the refiner's time ids end with an aesthetic score: high for the prompt, low for the negative prompt
                AestheticScores scores = request.aestheticScoresOrDefault();
                boolean aesthetic = model.sdxl().aestheticScore();
                Tensor timeIds = repeat(aesthetic ? size.refinerTimeIds(scores.positive()) : size.timeIds(), batch);
                Tensor uncondTimeIds = aesthetic ? repeat(size.refinerTimeIds(scores.negative()), batch) : timeIds;
                addedCond = new UNet.AddedConditioning(repeat(cond.pooled(), batch), timeIds);
                if (guided) addedUncond = new UNet.AddedConditioning(repeat(uncond.pooled(), batch), uncondTimeIds);
            }
            model.releaseTextEncoderPages();
            return new Conditioning(repeat(cond.context(), batch), guided ? repeat(uncond.context(), batch) : null,
                    addedCond, addedUncond, request.cfgScale());
        }

        /** For an ordinary UNet, which takes the latents alone; a one-line error for the others (inpainting, depth, x4 upscaler). */
        NoisePredictor predictor(LoadedModel model) {
            if (model.unetInChannels() != model.latentChannels()) {
                throw new JDiffusionException(model.model().source() + ": the UNet takes " + model.unetInChannels()
                        + " input channels (the latents and a conditioning image: an inpainting, depth or upscaler model); this needs an"
                        + " ordinary model (" + model.latentChannels() + ")");
            }
            return predictor(model, null);
        }

        /** For inpainting models: the UNet also sees {@code extraChannels} after the latents (null for none). */
        NoisePredictor predictor(LoadedModel model, Tensor extraChannels) {
            return model.guided(uncond, cond, addedUncond, addedCond, cfgScale, extraChannels);
        }

        /** For the x4 upscaler: the UNet also sees {@code extraChannels} after the latents and {@code classLabel} (the noise level). */
        NoisePredictor predictor(LoadedModel model, Tensor extraChannels, int classLabel) {
            return model.guided(uncond, cond, cfgScale, extraChannels, classLabel);
        }
    }

    /** Loads the job's model with its add-ons, after checking what can be checked without it (so a bad sampler fails fast). */
    static LoadedModel load(Txt2ImgRequest request, ModelAddons addons) {
        SamplerId.parse(request.sampler());
        StableDiffusionModel model = ModelLoader.load(request.model(), request.configDir());
        if (request.predictionType() != null) model = model.withPredictionType(request.predictionType());
        return new LoadedModel(addons.apply(model), addons.attentionInputs(), addons.taesd());
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
     * The UNet's extra input channels when there is no picture (txt2img and its hires fix), or null for an
     * ordinary model. An inpainting model paints everything, as A1111 runs it in txt2img: a mask of ones and
     * the latents of a mid-gray image (0 in [-1, 1]), encoded with {@code rng} after the noise is drawn. A
     * depth model needs a picture: refused.
     */
    static Tensor channelsWithoutPicture(LoadedModel model, int batch, int width, int height, NoiseSource rng) {
        int in = model.unetInChannels(), latent = model.latentChannels(), scale = model.vaeScale();
        if (in == latent) return null;
        if (in != 2 * latent + 1) Img2Img.requireKnownUNet(model); // a depth model or an unknown kind: one line
        Tensor gray = Generation.repeat(model.encodeImage(new Tensor(new float[3 * width * height], 1, 3, height, width), rng), batch);
        Tensor everything = new Tensor(new float[batch * (height / scale) * (width / scale)], batch, 1, height / scale, width / scale);
        Arrays.fill(everything.data, 1f);
        return inpaintingChannels(everything, gray);
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
        return images(model, model, request, described, latents, extraParameters, finish);
    }

    /**
     * As {@link #images(LoadedModel, Txt2ImgRequest, Txt2ImgRequest, Tensor, Map, UnaryOperator)}, the latents decoded
     * by {@code decoder}'s VAE (the SDXL refiner's, when it finished them) while the infotext names {@code model}.
     */
    static List<GeneratedImage> images(LoadedModel model, LoadedModel decoder, Txt2ImgRequest request, Txt2ImgRequest described,
                                       Tensor latents, Map<String, String> extraParameters, UnaryOperator<byte[]> finish) {
        int w = request.width(), h = request.height();
        OutputWatermark mark = OutputWatermark.choose(request.watermark(), decoder.model().family(), w, h);
        byte[][] rgb = LoadedModel.toRgb8(mark.onDecoded(decoder.decode(latents)));
        Map<String, String> extra = new LinkedHashMap<>(extraParameters);
        if (mark.message() != null) extra.put(OutputWatermark.INFOTEXT_KEY, mark.message().name());
        Infotext base = Infotext.forTxt2Img(described, request.seed(), model.modelHash(), Infotext.modelName(request.model()));
        String vae = model.taesd() != null ? model.taesd().name() : swappedVaeName(model.model());
        if (vae != null) base = withVae(base, vae);
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

    /**
     * The name A1111's infotext gives a VAE that is not the checkpoint's own (--vae): its file name, or its
     * folder's for a diffusers vae folder; null when the VAE's weights come from the model itself.
     */
    static String swappedVaeName(StableDiffusionModel model) {
        String source = model.vae().source();
        if (source == null || source.startsWith(model.source())) return null;
        java.nio.file.Path file = java.nio.file.Path.of(source), folder = file.getParent();
        boolean inVaeFolder = file.getFileName().toString().startsWith("diffusion_pytorch_model.") && folder != null;
        if (!inVaeFolder) return file.getFileName().toString();
        // a model folder's vae/ is known by its model: "sd-model/vae"
        boolean named = !folder.getFileName().toString().equals("vae") || folder.getParent() == null || folder.getParent().getFileName() == null;
        return named ? folder.getFileName().toString() : folder.getParent().getFileName() + "/vae";
    }

    /** The infotext with "VAE: name" where A1111 writes it: after the model, before "Clip skip" (or what follows). */
    static Infotext withVae(Infotext base, String vae) {
        Map<String, String> out = new LinkedHashMap<>();
        boolean placed = false;
        for (Map.Entry<String, String> e : base.parameters().entrySet()) {
            if (!placed && java.util.Set.of("Denoising strength", "Clip skip", "RNG", "Version").contains(e.getKey())) {
                out.put("VAE", vae);
                placed = true;
            }
            out.put(e.getKey(), e.getValue());
        }
        if (!placed) out.put("VAE", vae);
        return new Infotext(base.prompt(), base.negativePrompt(), out);
    }

    private static void putAll(Map<String, String> out, Map<String, String> extra) {
        extra.forEach((k, v) -> {
            if (v != null) out.put(k, v);
        });
    }
}
