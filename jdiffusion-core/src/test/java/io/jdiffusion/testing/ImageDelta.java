package io.jdiffusion.testing;

import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.GeneratedImage;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Two 8-bit images compared as the fixtures compare pipelines: mean and max |Δ| in levels. */
public record ImageDelta(double mean, int max) {

    public static ImageDelta between(byte[] rgb, byte[] expectedRgb) {
        assertThat(rgb.length).isEqualTo(expectedRgb.length);
        long sum = 0;
        int max = 0;
        for (int i = 0; i < rgb.length; i++) {
            int d = Math.abs((rgb[i] & 0xff) - (expectedRgb[i] & 0xff));
            sum += d;
            max = Math.max(max, d);
        }
        return new ImageDelta((double) sum / rgb.length, max);
    }

    /** A generated image against a reference PNG of the same size. */
    public static ImageDelta between(GeneratedImage image, Path expectedPng) {
        return between(image.width(), image.height(), image.rgb(), Png.read(expectedPng));
    }

    /** A written PNG against a reference PNG of the same size. */
    public static ImageDelta between(Path png, Path expectedPng) {
        Png.Image image = Png.read(png);
        return between(image.width(), image.height(), image.rgb(), Png.read(expectedPng));
    }

    private static ImageDelta between(int width, int height, byte[] rgb, Png.Image expected) {
        assertThat(width).as("width").isEqualTo(expected.width());
        assertThat(height).as("height").isEqualTo(expected.height());
        return between(rgb, expected.rgb());
    }

    /**
     * The fixtures' tolerance for whole pipelines: mean |Δ| ≤ 0.5 and max |Δ| ≤ 4 levels. Prints the figures
     * (they go into reports).
     */
    public ImageDelta assertWithinTolerance(String what) {
        System.out.printf("%s: %s%n", what, this);
        assertThat(mean).as(what + ": mean |Δ| in levels").isLessThanOrEqualTo(0.5);
        assertThat(max).as(what + ": max |Δ| in levels").isLessThanOrEqualTo(4);
        return this;
    }

    @Override
    public String toString() {
        return String.format("mean |Δ| %.4f, max |Δ| %d", mean, max);
    }
}
