package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;

import java.nio.file.Path;

/**
 * A LoRA to apply and how strongly: {@code --lora FILE[:WEIGHT]}, or {@code <lora:NAME:WEIGHT>} in a prompt
 * once its name is found. A1111 lets the text encoder and the UNet have different weights
 * ({@code <lora:NAME:TE:UNET>}); one weight is both.
 */
public record LoraSpec(Path file, double textEncoderWeight, double unetWeight) {

    public LoraSpec {
        if (file == null) throw new JDiffusionException("--lora: no file given");
        if (!Double.isFinite(textEncoderWeight) || !Double.isFinite(unetWeight)) {
            throw new JDiffusionException("--lora: " + file + ": the weight must be a finite number");
        }
    }

    public LoraSpec(Path file, double weight) {
        this(file, weight, weight);
    }

    /**
     * {@code FILE} (weight 1) or {@code FILE:WEIGHT}. The weight is what follows the last colon when that
     * is a number, so paths with colons (C:\...) still work.
     */
    public static LoraSpec parse(String arg) {
        if (arg == null || arg.isBlank()) throw new JDiffusionException("--lora: empty value (expected FILE[:WEIGHT])");
        int colon = arg.lastIndexOf(':');
        if (colon > 0 && colon < arg.length() - 1) {
            String tail = arg.substring(colon + 1).strip();
            if (tail.matches("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?")) {
                return new LoraSpec(Path.of(arg.substring(0, colon)), Double.parseDouble(tail));
            }
        }
        return new LoraSpec(Path.of(arg), 1.0);
    }
}
