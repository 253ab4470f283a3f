package io.jdiffusion.pipeline;

import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.sampling.LatentsHook;
import io.jdiffusion.sampling.NoisePredictor;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Inpainting, as diffusers' StableDiffusionInpaintPipeline computes it, for both kinds of model (told apart
 * by the UNet's input channels):
 * <ul>
 *   <li>an ordinary model (4 channels) denoises the whole latent image, and after every step the part
 *       outside the mask is replaced by the init image's latents noised to the next step's level;</li>
 *   <li>an inpainting model (9 channels) sees, beside the latents, the mask at latent size and the latents
 *       of the init image with the masked part set to 0 (gray).</li>
 * </ul>
 * The mask is binarised at half intensity and reaches latent size by nearest-neighbour sampling. The
 * generator's draws come in diffusers' order: the init image's posterior sample (ordinary models, or
 * strength below 1), the noise, the masked image's posterior sample, then the samplers' own draws.
 *
 * <p>Afterwards, unless the request says otherwise, the original pixels are pasted back outside the
 * blurred mask, so what was not masked stays exactly as it was.
 */
public final class Inpaint {
    private Inpaint() {
    }

    /** Loads the request's model and runs it; returns one image per batch entry, in order. */
    public static List<GeneratedImage> run(InpaintRequest request, StepListener listener) {
        return run(request, ModelAddons.NONE, listener);
    }

    /** Loads the request's model, puts the add-ons on it (another VAE, LoRAs, hypernetworks) and runs it. */
    public static List<GeneratedImage> run(InpaintRequest request, ModelAddons addons, StepListener listener) {
        request.validate();
        return run(Generation.load(request.params(), addons), request, listener);
    }

    /** Runs the request on an already loaded model; the listener sees every step and may stop the run. */
    public static List<GeneratedImage> run(LoadedModel model, InpaintRequest request, StepListener listener) {
        request.validate();
        if (request.onlyMasked()) return onlyMasked(model, request, listener);
        Txt2ImgRequest params = request.resolvedParams();
        int w = params.width(), h = params.height();
        RgbImage init = ImageResize.resize(request.initImage(), w, h, request.resizeMode());
        // as diffusers' mask processor: resized as it is, then reduced to its luminance
        byte[] sharp = ImageResize.resize(request.mask(), w, h, request.resizeMode()).luminance();
        if (request.invertMask()) sharp = Masks.invert(sharp);
        float[] overlay = null;
        Map<String, String> extra = parameters(request);
        if (request.overlay()) {
            // A1111 blurs the mask at its own size, then resizes it
            int mw = request.mask().width(), mh = request.mask().height();
            byte[] blurred = ImageResize.resize(Masks.blur(maskAtOwnSize(request), mw, mh, request.maskBlur()), 1, mw, mh,
                    w, h, request.resizeMode());
            overlay = Masks.overlayAlpha(blurred);
            extra.put("Mask blur", Integer.toString(request.maskBlur()));
        }
        return run(model, params, init, sharp, overlay, request.strength(), request.maskedContent(), extra, listener);
    }

    /** The mask's luminance at its own size, inverted when the request says so: 255 = repaint. */
    private static byte[] maskAtOwnSize(InpaintRequest request) {
        byte[] mask = request.mask().luminance();
        return request.invertMask() ? Masks.invert(mask) : mask;
    }

    /** The strength, and the masked content unless it is "original" (A1111 writes it only then). */
    private static Map<String, String> parameters(InpaintRequest request) {
        Map<String, String> extra = new LinkedHashMap<>(Img2Img.parameters(request.strength()));
        if (request.maskedContent() != MaskedContent.ORIGINAL) extra.put("Masked content", request.maskedContent().label());
        return extra;
    }

    /**
     * A1111's "Inpaint area: Only masked": the box around the (blurred) mask, widened by the padding and then
     * to the output's aspect ratio, is cut out and scaled to the output size, inpainted, scaled back and
     * pasted into the picture, which keeps its size; then the original is laid back over it outside the
     * blurred mask (here A1111 does not double the blurred mask as it does for the whole picture).
     */
    private static List<GeneratedImage> onlyMasked(LoadedModel model, InpaintRequest request, StepListener listener) {
        Txt2ImgRequest params = request.resolvedParams();
        int w = params.width(), h = params.height();
        RgbImage picture = request.initImage();
        int pw = picture.width(), ph = picture.height();
        byte[] sharp = maskAtOwnSize(request);
        byte[] blurred = Masks.blur(sharp, pw, ph, request.maskBlur());
        MaskedArea.Box box = MaskedArea.around(blurred, pw, ph, request.onlyMaskedPadding(), w, h);

        RgbImage crop = ImageResize.resize(box.cut(picture), w, h, ResizeMode.FILL);
        byte[] cropMask = ImageResize.resize(box.cut(sharp, 1, pw), 1, box.width(), box.height(), w, h, ResizeMode.FILL);
        Map<String, String> extra = parameters(request);
        if (request.overlay()) extra.put("Mask blur", Integer.toString(request.maskBlur()));
        extra.put("Inpaint area", "Only masked");
        extra.put("Masked area padding", Integer.toString(request.onlyMaskedPadding()));
        List<GeneratedImage> generated = run(model, params, crop, cropMask, null, request.strength(),
                request.maskedContent(), extra, listener);

        float[] alpha = new float[pw * ph];
        for (int i = 0; i < alpha.length; i++) alpha[i] = (blurred[i] & 0xff) / 255f;
        List<GeneratedImage> out = new ArrayList<>(generated.size());
        for (GeneratedImage g : generated) {
            byte[] back = ImageResize.resize(g.rgb(), 3, w, h, box.width(), box.height(), ResizeMode.CROP);
            byte[] pasted = box.paste(back, picture);
            byte[] rgb = request.overlay() ? Masks.overlay(picture.rgb(), pasted, alpha) : pasted;
            out.add(new GeneratedImage(pw, ph, rgb, g.seed(), g.infotext()));
        }
        return out;
    }

    /**
     * The inpainting run itself, on an image and mask already at the output size.
     *
     * @param mask    one byte per pixel, ≥ 128 = repaint
     * @param overlay per pixel, how much of the generated image to keep when pasting the original back;
     *                null to return the decoded image as it is
     * @param content what the masked area starts from (only matters below strength 1)
     */
    static List<GeneratedImage> run(LoadedModel model, Txt2ImgRequest params, RgbImage image, byte[] mask,
                                    float[] overlay, double strength, MaskedContent content,
                                    Map<String, String> extraParameters, StepListener listener) {
        Img2Img.requireKnownUNet(model);
        boolean inpaintingModel = model.unetInChannels() != model.latentChannels();
        int batch = params.batchSize(), scale = model.vaeScale();
        int lh = params.height() / scale, lw = params.width() / scale;

        Generation.Conditioning text = Generation.Conditioning.of(model, params);
        Sampler sampler = Generation.sampler(model, params);
        int start = sampler.startIndex(strength);
        boolean fromNoise = strength == 1.0;

        Tensor pixels = (content == MaskedContent.FILL && !fromNoise ? Masks.fill(image, mask) : image).toTensor();
        Tensor repaint = Masks.binary(mask, params.width(), params.height());
        Tensor maskedImage = pixels.copy();
        int plane = params.width() * params.height();
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < plane; i++) if (repaint.data[i] >= 0.5f) maskedImage.data[c * plane + i] = 0f;
        }
        Tensor latentMask = Generation.repeat(Ops.upsampleNearest(repaint, lh, lw), batch);

        TorchCpuRandom rng = new TorchCpuRandom(params.seed());
        Tensor clean = !inpaintingModel || !fromNoise ? Generation.repeat(model.encodeImage(pixels, rng), batch) : null;
        Tensor noise = rng.randn(batch, model.latentChannels(), lh, lw);
        if (!fromNoise) startMaskedFrom(content, clean, noise, latentMask);
        Tensor latents = fromNoise ? times(noise, sampler.initNoiseSigma()) : sampler.addNoise(clean, noise, start);
        Tensor maskedLatents = Generation.repeat(model.encodeImage(maskedImage, rng), batch);

        NoisePredictor predictor;
        LatentsHook hook;
        if (inpaintingModel) {
            predictor = text.predictor(model, Generation.inpaintingChannels(latentMask, maskedLatents));
            hook = null;
        } else {
            predictor = text.predictor(model);
            hook = keepOutsideMask(sampler, clean, noise, latentMask);
        }
        latents = sampler.denoise(predictor, latents, start, rng, hook, listener);

        float[] alpha = overlay;
        UnaryOperator<byte[]> finish = alpha == null ? UnaryOperator.identity()
                : generated -> Masks.overlay(image.rgb(), generated, alpha);
        return Generation.images(model, params, latents, extraParameters, finish);
    }

    /**
     * A1111's latent masked contents: under the mask the init image's latents become the seed's noise (the
     * draw the sampler starts from, as A1111 uses the same seeds for both) or zero, before the strength's
     * noise is added. Outside the mask they stay, so the steps' re-noised known part is unchanged.
     */
    private static void startMaskedFrom(MaskedContent content, Tensor clean, Tensor noise, Tensor latentMask) {
        if (content != MaskedContent.LATENT_NOISE && content != MaskedContent.LATENT_NOTHING) return;
        int channels = clean.dim(1), plane = clean.dim(2) * clean.dim(3);
        for (int i = 0; i < clean.data.length; i++) {
            int n = i / (channels * plane), p = i % plane;
            if (latentMask.data[n * plane + p] < 0.5f) continue;
            clean.data[i] = content == MaskedContent.LATENT_NOISE ? noise.data[i] : 0f;
        }
    }

    /**
     * After each step, outside the mask the latents become the init image's, noised to the next step's level
     * (not noised after the last step): (1 − m)·known + m·latents.
     */
    private static LatentsHook keepOutsideMask(Sampler sampler, Tensor clean, Tensor noise, Tensor latentMask) {
        int evaluations = sampler.timesteps().length;
        int channels = clean.dim(1), plane = clean.dim(2) * clean.dim(3);
        return (index, latents) -> {
            Tensor known = index + 1 < evaluations ? sampler.addNoise(clean, noise, index + 1) : clean;
            float[] out = new float[latents.numel()];
            for (int i = 0; i < out.length; i++) {
                int n = i / (channels * plane), p = i % plane;
                float m = latentMask.data[n * plane + p];
                out[i] = (1f - m) * known.data[i] + m * latents.data[i];
            }
            return new Tensor(out, latents.shape);
        };
    }

    private static Tensor times(Tensor t, float s) {
        float[] out = new float[t.numel()];
        for (int i = 0; i < out.length; i++) out[i] = t.data[i] * s;
        return new Tensor(out, t.shape);
    }
}
