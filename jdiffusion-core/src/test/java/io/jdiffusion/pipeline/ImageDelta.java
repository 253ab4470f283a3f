package io.jdiffusion.pipeline;

import io.jdiffusion.io.Png;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Two 8-bit images compared as the fixtures compare pipelines: mean and max |Δ| in levels. */
record ImageDelta(double mean, int max) {

    static ImageDelta between(byte[] rgb, byte[] expectedRgb) {
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

    static ImageDelta between(GeneratedImage image, Path expectedPng) {
        Png.Image expected = Png.read(expectedPng);
        assertThat(image.width()).isEqualTo(expected.width());
        assertThat(image.height()).isEqualTo(expected.height());
        return between(image.rgb(), expected.rgb());
    }

    /** The fixtures' tolerance for whole pipelines: mean |Δ| ≤ 0.5 and max |Δ| ≤ 4 levels. */
    ImageDelta assertWithinTolerance(String what) {
        assertThat(mean).as(what + ": mean |Δ| in levels").isLessThanOrEqualTo(0.5);
        assertThat(max).as(what + ": max |Δ| in levels").isLessThanOrEqualTo(4);
        return this;
    }

    @Override
    public String toString() {
        return String.format("mean |Δ| %.4f, max |Δ| %d", mean, max);
    }
}
