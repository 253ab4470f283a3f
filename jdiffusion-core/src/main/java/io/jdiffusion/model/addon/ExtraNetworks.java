package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A1111's extra-network tags in a prompt, {@code <lora:NAME:WEIGHT>} and {@code <hypernet:NAME:STRENGTH>}:
 * found, parsed and cut out of the text (each tag is replaced by nothing, exactly as A1111 does, so the
 * text around it, commas included, stays as written). Tags of other types are left in the text.
 *
 * @param prompt    the prompt without the tags
 * @param loras     {@code <lora:NAME[:TE[:UNET]]>} (also {@code <lyco:...>}, which A1111 treats the same), in order
 * @param hypernets {@code <hypernet:NAME[:STRENGTH]>}, in order
 */
public record ExtraNetworks(String prompt, List<LoraTag> loras, List<HypernetTag> hypernets) {

    /** A LoRA named in a prompt: weights for the text encoder and the UNet (the same unless both are given). */
    public record LoraTag(String name, double textEncoderWeight, double unetWeight) {
    }

    public record HypernetTag(String name, double strength) {
    }

    /** A1111's pattern for an extra-network tag: {@code <type:arguments>}. */
    private static final Pattern TAG = Pattern.compile("<(\\w+):([^>]+)>");

    /** Cuts the LoRA and hypernetwork tags out of {@code prompt}; a malformed one is a user error naming it. */
    public static ExtraNetworks extract(String prompt) {
        List<LoraTag> loras = new ArrayList<>();
        List<HypernetTag> hypernets = new ArrayList<>();
        Matcher m = TAG.matcher(prompt);
        StringBuilder text = new StringBuilder();
        while (m.find()) {
            String type = m.group(1);
            switch (type) {
                case "lora", "lyco" -> loras.add(lora(m.group(), m.group(2)));
                case "hypernet" -> hypernets.add(hypernet(m.group(), m.group(2)));
                default -> {
                    m.appendReplacement(text, Matcher.quoteReplacement(m.group()));
                    continue;
                }
            }
            m.appendReplacement(text, "");
        }
        m.appendTail(text);
        return new ExtraNetworks(text.toString(), List.copyOf(loras), List.copyOf(hypernets));
    }

    /** {@code NAME[:TE[:UNET]]}, or with named values {@code te=..}, {@code unet=..} (A1111's {@code dyn=} is ignored). */
    private static LoraTag lora(String tag, String args) {
        String[] parts = args.split(":");
        String name = parts[0].strip();
        if (name.isEmpty()) throw new JDiffusionException("prompt: " + tag + " names no LoRA");
        Double te = null, unet = null;
        int positional = 0;
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i].strip();
            int eq = p.indexOf('=');
            String key = eq >= 0 ? p.substring(0, eq).strip() : switch (positional++) {
                case 0 -> "te";
                case 1 -> "unet";
                default -> "";
            };
            String value = eq < 0 ? p : p.substring(eq + 1).strip();
            switch (key) {
                case "te" -> te = number(tag, value);
                case "unet" -> unet = number(tag, value);
                case "dyn" -> number(tag, value);
                default -> throw new JDiffusionException("prompt: " + tag + ": unexpected '" + p + "' (expected <lora:NAME:WEIGHT>)");
            }
        }
        double teWeight = te != null ? te : 1.0;
        return new LoraTag(name, teWeight, unet != null ? unet : teWeight);
    }

    private static HypernetTag hypernet(String tag, String args) {
        String[] parts = args.split(":");
        String name = parts[0].strip();
        if (name.isEmpty()) throw new JDiffusionException("prompt: " + tag + " names no hypernetwork");
        if (parts.length > 2) throw new JDiffusionException("prompt: " + tag + ": expected <hypernet:NAME:STRENGTH>");
        return new HypernetTag(name, parts.length == 2 ? number(tag, parts[1].strip()) : 1.0);
    }

    private static double number(String tag, String value) {
        try {
            double v = Double.parseDouble(value);
            if (Double.isFinite(v)) return v;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new JDiffusionException("prompt: " + tag + ": '" + value + "' is not a number");
    }
}
