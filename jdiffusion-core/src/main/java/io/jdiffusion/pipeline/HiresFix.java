package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.sampling.Sampler;
import io.jdiffusion.sampling.Samplers;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.sampling.TorchCpuRandom;
import io.jdiffusion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A1111's "hires fix" for txt2img: generate at the requested (base) size, upscale, then refine the larger
 * picture with an img2img pass of the same prompt and seed at the target size.
 *
 * <p>What happens, as A1111's {@code StableDiffusionProcessingTxt2Img.sample_hr_pass} does it:
 * <ul>
 *   <li>The target size is ⌊base · scale⌋, here rounded down to a multiple of 8 (A1111 makes the latents
 *       ⌊target / 8⌋ big, so its latent path rounds down the same way).</li>
 *   <li>{@link Upscaler#LATENT} ("Latent"): the first pass's latents are resized bilinearly (torch's
 *       {@code interpolate(mode="bilinear", align_corners=False)} without antialiasing, A1111's default latent
 *       mode). {@link Upscaler#LANCZOS} ("Lanczos"): the first pass is decoded, turned into 8-bit pixels the way
 *       A1111 does it there (clamped, times 255, truncated), resized with Pillow's Lanczos filter to the target
 *       size and encoded again by the VAE.</li>
 *   <li>The refining pass runs exactly {@code steps} steps (0 = the base steps) from the end of a schedule of
 *       ⌊steps / min(denoise, 0.999)⌋ steps, as A1111's img2img step setup does when it is given a step count
 *       (so a hires pass is not diffusers' img2img, which runs ⌊steps · strength⌋ of {@code steps}).</li>
 * </ul>
 *
 * <p>Seeds and noise: the first pass is exactly plain txt2img. The hires pass starts a fresh generator from the
 * same seed, as A1111 does (it makes a new ImageRNG of the request's seeds at the target latent shape). From it
 * the Lanczos path first draws the VAE posterior sample of the re-encoded image (as our img2img does, so this
 * pass is img2img of the upscaled picture with A1111's step count), then both paths draw the hires noise
 * [batch, channels, H/8, W/8] in one call; an ancestral sampler's per-step noise continues from that generator.
 * A1111 takes the posterior sample from torch's global generator (not reproducible); the rest follows it, with
 * our usual one-draw-per-batch convention.
 *
 * <p>The infotext is the first pass's (A1111 writes the base "Size") plus "Denoising strength", "Hires upscale",
 * "Hires steps" (when not 0) and "Hires upscaler".
 *
 * @param scale    the upscale factor (A1111 default 2)
 * @param steps    the hires pass's steps; 0 = as many as the first pass (A1111's default)
 * @param denoise  the hires pass's denoising strength in (0, 1] (A1111 default 0.7)
 * @param upscaler how the first pass is brought to the target size
 */
public record HiresFix(double scale, int steps, double denoise, Upscaler upscaler) {
    public static final double DEFAULT_SCALE = 2.0;
    public static final double DEFAULT_DENOISE = 0.7;

    /** The upscalers, with the names A1111 writes into "Hires upscaler". */
    public enum Upscaler {
        LATENT("Latent"),
        LANCZOS("Lanczos");

        public final String a1111Name;

        Upscaler(String a1111Name) {
            this.a1111Name = a1111Name;
        }

        /** "latent" or "lanczos" (any case; A1111's names too). */
        public static Upscaler parse(String text) {
            for (Upscaler u : values()) {
                if (u.name().equalsIgnoreCase(text.strip()) || u.a1111Name.equalsIgnoreCase(text.strip())) return u;
            }
            throw new JDiffusionException("--hires-upscaler: '" + text + "' is not one of latent, lanczos");
        }

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The hires pass's width for a base width: ⌊width · scale⌋ rounded down to a multiple of 8. */
    public int targetWidth(int baseWidth) {
        return targetSide(baseWidth);
    }

    /** The hires pass's height for a base height. */
    public int targetHeight(int baseHeight) {
        return targetSide(baseHeight);
    }

    private int targetSide(int base) {
        return (int) (base * scale) / 8 * 8;
    }

    /** The steps the hires pass runs. */
    public int hiresSteps(int baseSteps) {
        return steps == 0 ? baseSteps : steps;
    }

    /** The length of the schedule whose last {@link #hiresSteps} steps the hires pass runs. */
    public int scheduleSteps(int baseSteps) {
        return (int) (hiresSteps(baseSteps) / Math.min(denoise, 0.999));
    }

    /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value for this base job. */
    public HiresFix validate(Txt2ImgRequest base) {
        if (upscaler == null) throw new JDiffusionException("--hires-upscaler: no upscaler given");
        if (!(scale >= 1) || Double.isInfinite(scale)) {
            throw new JDiffusionException("--hires-scale: " + scale + " must be a finite number >= 1");
        }
        int w = targetWidth(base.width()), h = targetHeight(base.height());
        if (w > Txt2ImgRequest.MAX_SIZE || h > Txt2ImgRequest.MAX_SIZE) {
            throw new JDiffusionException("--hires-scale: " + Infotext.formatNumber(scale) + " makes " + base.width() + "x"
                    + base.height() + " into " + w + "x" + h + ", larger than " + Txt2ImgRequest.MAX_SIZE);
        }
        if (steps < 0 || steps > Txt2ImgRequest.MAX_STEPS) {
            throw new JDiffusionException("--hires-steps: " + steps + " is outside 0.." + Txt2ImgRequest.MAX_STEPS + " (0 = as --steps)");
        }
        if (!(denoise > 0 && denoise <= 1)) {
            throw new JDiffusionException("--hires-denoise: " + denoise + " is outside (0, 1]");
        }
        int schedule = scheduleSteps(base.steps());
        if (schedule > Txt2ImgRequest.MAX_STEPS) {
            throw new JDiffusionException("--hires-denoise: " + denoise + " with " + hiresSteps(base.steps())
                    + " hires steps needs a schedule of " + schedule + " steps, more than " + Txt2ImgRequest.MAX_STEPS
                    + " (raise it or lower --hires-steps)");
        }
        return this;
    }

    /** What the hires fix adds to the infotext, in A1111's order. */
    Map<String, String> parameters() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("Denoising strength", Infotext.formatNumber(denoise));
        p.put("Hires upscale", Infotext.formatNumber(scale));
        if (steps != 0) p.put("Hires steps", Integer.toString(steps));
        p.put("Hires upscaler", upscaler.a1111Name);
        return p;
    }

    /**
     * Runs the base job with the hires fix on a loaded model. The listener sees both passes as one run (steps
     * counted on across them); stopping it during the first pass returns the first pass's images, as A1111 does.
     */
    List<GeneratedImage> run(LoadedModel model, Txt2ImgRequest base, StepListener listener) {
        base.validate();
        validate(base);
        Txt2ImgRequest target = base.withSize(targetWidth(base.width()), targetHeight(base.height()));
        StepListener progress = listener == null ? StepListener.NONE : listener;

        Sampler first = Generation.sampler(model, base);
        Sampler second = Samplers.create(base.sampler(), model.model().scheduler(), scheduleSteps(base.steps()));
        int start = (second.numInferenceSteps() - hiresSteps(base.steps())) * second.order();
        int firstTotal = first.timesteps().length, total = firstTotal + second.timesteps().length - start;
        boolean[] stopped = {false};

        Generation.Conditioning text = Generation.Conditioning.of(model, base);
        TorchCpuRandom rng = new TorchCpuRandom(base.seed());
        int vaeScale = model.vaeScale();
        Tensor noise = rng.randn(base.batchSize(), model.latentChannels(), base.height() / vaeScale, base.width() / vaeScale);
        Tensor extra = Generation.channelsWithoutPicture(model, base.batchSize(), base.width(), base.height(), rng);
        Tensor lowres = first.sample(text.predictor(model, extra), noise, rng, (step, steps, x) -> {
            stopped[0] = !progress.onStep(step, total, x);
            return !stopped[0];
        });
        if (stopped[0]) return Generation.images(model, base, lowres, Map.of(), UnaryOperator.identity());

        TorchCpuRandom hiresRng = new TorchCpuRandom(base.seed());
        Tensor clean = switch (upscaler) {
            case LATENT -> upscaleLatents(lowres, target.height() / vaeScale, target.width() / vaeScale);
            case LANCZOS -> model.encodeImage(lanczosUpscaled(model, lowres, target.width(), target.height()), hiresRng);
        };
        Tensor hiresNoise = hiresRng.randn(clean.shape);
        // SDXL's size conditioning follows the target size (A1111 makes the hires conditioning at that size)
        Generation.Conditioning hiresText = model.sdxl() == null ? text : Generation.Conditioning.of(model, target);
        Tensor hiresExtra = Generation.channelsWithoutPicture(model, base.batchSize(), target.width(), target.height(), hiresRng);
        Tensor latents = second.denoise(hiresText.predictor(model, hiresExtra), second.addNoise(clean, hiresNoise, start), start, hiresRng,
                null, (step, steps, x) -> progress.onStep(firstTotal + step, total, x));
        return Generation.images(model, target, base, latents, parameters(), UnaryOperator.identity());
    }

    /**
     * Bilinear resize of [B, C, h, w] latents to outH × outW as torch's {@code interpolate(mode="bilinear",
     * align_corners=False, antialias=False)}: each output pixel centre maps back to (o + 0.5)·in/out − 0.5 in the
     * input (clamped at 0) and mixes its two neighbours along each axis.
     */
    static Tensor upscaleLatents(Tensor x, int outH, int outW) {
        int planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
        float[] in = x.data, out = new float[planes * outH * outW];
        int[] x0 = new int[outW], x1 = new int[outW];
        float[] lx = new float[outW];
        float scaleX = (float) w / outW, scaleY = (float) h / outH;
        for (int ox = 0; ox < outW; ox++) {
            float src = Math.max(0f, scaleX * (ox + 0.5f) - 0.5f);
            x0[ox] = (int) src;
            x1[ox] = Math.min(x0[ox] + 1, w - 1);
            lx[ox] = src - x0[ox];
        }
        for (int p = 0; p < planes; p++) {
            int plane = p * h * w;
            for (int oy = 0; oy < outH; oy++) {
                float src = Math.max(0f, scaleY * (oy + 0.5f) - 0.5f);
                int y0 = (int) src, y1 = Math.min(y0 + 1, h - 1);
                float ly = src - y0;
                int row0 = plane + y0 * w, row1 = plane + y1 * w, o = (p * outH + oy) * outW;
                for (int ox = 0; ox < outW; ox++) {
                    float top = (1f - lx[ox]) * in[row0 + x0[ox]] + lx[ox] * in[row0 + x1[ox]];
                    float bottom = (1f - lx[ox]) * in[row1 + x0[ox]] + lx[ox] * in[row1 + x1[ox]];
                    out[o + ox] = (1f - ly) * top + ly * bottom;
                }
            }
        }
        return new Tensor(out, x.dim(0), x.dim(1), outH, outW);
    }

    /** The first pass decoded, in 8 bits as A1111 makes it, Lanczos-resized to the target size: [B, 3, H, W] in [-1, 1]. */
    static Tensor lanczosUpscaled(LoadedModel model, Tensor lowres, int width, int height) {
        Tensor decoded = model.decode(lowres);
        int batch = decoded.dim(0);
        Tensor[] images = new Tensor[batch];
        for (int n = 0; n < batch; n++) {
            RgbImage small = truncatedRgb8(decoded, n);
            images[n] = ImageResize.resize(small, width, height, ResizeMode.RESIZE).toTensor();
        }
        return Tensor.cat0(images);
    }

    /** Image n of [B, 3, h, w] in [-1, 1] as A1111's hires pass turns it into pixels: clamp((x + 1) / 2, 0, 1) · 255, truncated. */
    static RgbImage truncatedRgb8(Tensor images, int n) {
        int h = images.dim(2), w = images.dim(3), plane = h * w;
        byte[] rgb = new byte[plane * 3];
        for (int c = 0; c < 3; c++) {
            int base = (n * 3 + c) * plane;
            for (int i = 0; i < plane; i++) {
                float v = Math.min(1f, Math.max(0f, (images.data[base + i] + 1f) / 2f));
                rgb[i * 3 + c] = (byte) (int) (255f * v);
            }
        }
        return new RgbImage(w, h, rgb);
    }
}
