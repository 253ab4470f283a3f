package io.jdiffusion.model;

import io.jdiffusion.tensor.DType;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;

/** What {@code jdiffusion info MODEL} prints: the model's layout, family and architecture as loaded. */
public final class ModelInfo {
    private ModelInfo() {
    }

    public static String describe(StableDiffusionModel m) {
        StringBuilder out = new StringBuilder();
        line(out, "model", m.source());
        line(out, "layout", m.layout());
        line(out, "family", m.family().displayName + (m.isSdxlRefiner() ? " refiner (img2img, or txt2img's --refiner)" : ""));
        String prediction = m.predictionType();
        if (!m.scheduler().has("prediction_type")) {
            prediction += m.layout().equals(StableDiffusionModel.SINGLE_FILE)
                    ? " (assumed: a single file cannot tell; set it with --prediction-type or --config)"
                    : " (the scheduler config names none)";
        }
        line(out, "prediction", prediction);
        // Turbo models are told apart by their schedule ("trailing"), which only the config says
        line(out, "timesteps", m.scheduler().has("timestep_spacing")
                ? "\"" + m.scheduler().textOr("timestep_spacing", "") + "\" spacing" : "each sampler's own spacing (the config names none)");

        UNetConfig u = m.unetConfig();
        line(out, "UNet", u.inChannels() + " in / " + u.outChannels() + " out channels" + inputPurpose(u)
                + ", channels " + Arrays.toString(u.blockOutChannels()) + ", " + u.layersPerBlock() + " layers per level");
        line(out, "", "attention at " + attentionLevels(u) + "; heads " + Arrays.toString(u.headsPerBlock())
                + ", depth " + Arrays.toString(u.transformerDepth()));
        line(out, "", "context " + u.crossAttentionDim() + ", " + (u.useLinearProjection() ? "linear" : "conv")
                + " projection, " + u.normGroups() + " norm groups");
        line(out, "", parameters(m.unet()));

        VaeConfig v = m.vaeConfig();
        line(out, "VAE", "channels " + Arrays.toString(v.blockOutChannels()) + ", " + v.latentChannels() + " latent channels, "
                + v.layersPerBlock() + " layers per level, scaling factor " + v.scalingFactor()
                + (v.shiftFactor() != 0 ? ", shift factor " + v.shiftFactor() : ""));
        line(out, "", parameters(m.vae()));

        boolean sdxl = m.textEncoder2() != null;
        boolean refiner = m.isSdxlRefiner();
        long total = parameterCount(m.unet()) + parameterCount(m.vae());
        if (!refiner) {
            textEncoder(out, sdxl ? "text encoder 1" : "text encoder", m.textEncoder());
            total += parameterCount(m.textEncoder().weights());
        }
        if (sdxl) {
            textEncoder(out, refiner ? "text encoder" : "text encoder 2", m.textEncoder2());
            total += parameterCount(m.textEncoder2().weights());
            String context = refiner ? m.textEncoder2().config().hiddenSize() + " (penultimate layer)"
                    : m.textEncoder().config().hiddenSize() + " + " + m.textEncoder2().config().hiddenSize() + " (penultimate layers)";
            String ids = refiner ? "size/crop ids and an aesthetic score" : "size/crop ids";
            line(out, "conditioning", "context " + context + ", pooled " + m.textEncoder2().config().projectionDim() + " + " + ids + " ("
                    + u.additionTimeEmbedDim() + " features each)"
                    + (m.forceZerosForEmptyPrompt() ? "; an empty negative prompt is zeros" : ""));
        }
        line(out, "total", count(total) + " parameters");
        return out.toString();
    }

    private static void textEncoder(StringBuilder out, String label, TextEncoderSpec t) {
        ClipTextConfig c = t.config();
        line(out, label, "CLIP, " + c.hiddenSize() + " wide, " + c.numLayers() + " layers, " + c.numHeads()
                + (c.numHeads() == 1 ? " head" : " heads") + ", MLP " + c.intermediateSize() + ", " + c.hiddenAct() + ", "
                + c.maxPositions() + " positions, " + c.vocabSize() + " tokens"
                + (c.projectionDim() > 0 ? ", projection " + c.projectionDim() : ""));
        line(out, "", "pad token \"" + t.padToken() + "\"");
        line(out, "", parameters(t.weights()));
    }

    private static void line(StringBuilder out, String label, String text) {
        out.append(String.format(Locale.ROOT, "%-14s %s%n", label, text));
    }

    /** Extra UNet input channels beside the latents, as the published variants use them. */
    private static String inputPurpose(UNetConfig u) {
        int extra = u.inChannels() - u.outChannels();
        return switch (extra) {
            case 0 -> "";
            case 1 -> " (latents + depth map)";
            case 5 -> " (latents + mask + masked-image latents: inpainting)";
            default -> " (latents + " + extra + " conditioning channels)";
        };
    }

    private static String attentionLevels(UNetConfig u) {
        List<String> where = new ArrayList<>();
        for (int l = 0; l < u.downAttention().length; l++) if (u.downAttention()[l]) where.add(String.valueOf(l));
        String levels = where.isEmpty() ? "no level" : (where.size() == 1 ? "level " : "levels ") + String.join(", ", where);
        return levels + (u.midAttention() ? " and the middle" : "");
    }

    static long parameterCount(Weights w) {
        long n = 0;
        for (String name : w.names()) n += w.get(name).numel();
        return n;
    }

    private static String parameters(Weights w) {
        Map<DType, Integer> tensorsByType = new EnumMap<>(DType.class);
        for (String name : w.names()) {
            Weight t = w.get(name);
            tensorsByType.merge(t.dtype(), 1, Integer::sum);
        }
        StringJoiner types = new StringJoiner(", ");
        tensorsByType.forEach((type, n) -> types.add(tensorsByType.size() == 1 ? type.name() : type.name() + " ×" + n));
        return count(parameterCount(w)) + " parameters in " + w.size() + " tensors, stored " + types;
    }

    private static String count(long n) {
        if (n >= 1_000_000_000L) return String.format(Locale.ROOT, "%.2fB", n / 1e9);
        if (n >= 1_000_000L) return String.format(Locale.ROOT, "%.2fM", n / 1e6);
        if (n >= 10_000L) return String.format(Locale.ROOT, "%.1fK", n / 1e3);
        return Long.toString(n);
    }
}
