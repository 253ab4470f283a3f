package io.jdiffusion.pipeline;

import io.jdiffusion.io.Png;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** An image against a reference PNG, as 8-bit pixels: the fixtures' tolerance is mean |Δ| ≤ 0.5, max |Δ| ≤ 4. */
record ImageComparison(double meanDelta, int maxDelta) {

    static ImageComparison of(GeneratedImage image, Path expectedPng) {
        Png.Image expected = Png.read(expectedPng);
        assertThat(image.width()).as("width").isEqualTo(expected.width());
        assertThat(image.height()).as("height").isEqualTo(expected.height());
        long sum = 0;
        int max = 0;
        for (int i = 0; i < image.rgb().length; i++) {
            int d = Math.abs((image.rgb()[i] & 0xff) - (expected.rgb()[i] & 0xff));
            sum += d;
            max = Math.max(max, d);
        }
        return new ImageComparison((double) sum / image.rgb().length, max);
    }

    /** Asserts the tolerance and prints the figures (they go into reports). */
    void assertWithinTolerance(String name) {
        System.out.printf("%s: mean |Δ| %.4f, max |Δ| %d%n", name, meanDelta, maxDelta);
        assertThat(meanDelta).as(name + ": mean |Δ| in levels").isLessThanOrEqualTo(0.5);
        assertThat(maxDelta).as(name + ": max |Δ| in levels").isLessThanOrEqualTo(4);
    }
}
