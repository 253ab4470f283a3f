package io.jdiffusion.testing;

import org.junit.jupiter.api.Assumptions;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reference files made by a generator script under {@code tools/fixtures/} and kept in this module's test
 * resources ({@code generated/<name>/}, each with a README saying how). Found in the source tree (next to the
 * fixtures subset, which the build names for every module) or else on the classpath.
 */
public final class Generated {
    private Generated() {
    }

    /** The generated file or folder at this path under {@code generated/}; skips the calling test when absent. */
    public static Path require(String relative) {
        String subset = System.getProperty("jdiffusion.fixtures.subset");
        if (subset != null && !subset.isBlank()) {
            Path p = Path.of(subset).resolveSibling("generated").resolve(relative);
            if (Files.exists(p)) return p;
        }
        var url = Generated.class.getClassLoader().getResource("generated/" + relative);
        Path p = null;
        if (url != null && url.getProtocol().equals("file")) {
            try {
                p = Path.of(url.toURI());
            } catch (URISyntaxException e) {
                p = null;
            }
        }
        Assumptions.assumeTrue(p != null && Files.exists(p), "generated reference not available: " + relative);
        return p;
    }
}
