package io.jdiffusion.model;

/** The published model families, told apart by the text encoder and the UNet's shapes. */
public enum ModelFamily {
    SD1("Stable Diffusion 1.x"),
    SD2("Stable Diffusion 2.x"),
    SDXL("Stable Diffusion XL");

    public final String displayName;

    ModelFamily(String displayName) {
        this.displayName = displayName;
    }
}
