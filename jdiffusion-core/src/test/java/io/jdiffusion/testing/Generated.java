package io.jdiffusion.testing;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The references this repository generates itself (core's test resources {@code generated/<name>/}, each with a
 * README saying what produced it), as opposed to the shared {@link Fixtures}. They are part of the repository, so a
 * missing one fails the test instead of skipping it.
 */
public final class Generated {
    private Generated() {
    }

    /** The folder {@code generated/<name>/}. */
    public static Path dir(String name) {
        return require(name);
    }

    /** The file or folder at this path under {@code generated/}. */
    public static Path require(String relative) {
        Path root = root();
        Path p = root.resolve(relative);
        assertThat(Files.exists(p)).as("generated reference %s (under %s)", relative, root).isTrue();
        return p;
    }

    /** On this module's classpath, or (from other modules, which see it inside the test jar) in the source tree. */
    private static Path root() {
        var url = Generated.class.getResource("/generated/");
        if (url != null && url.getProtocol().equals("file")) {
            try {
                return Path.of(url.toURI());
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        // the build points every module at core's fixture subset, which sits beside generated/ in the test resources
        String subset = System.getProperty("jdiffusion.fixtures.subset");
        assertThat(subset).as("system property jdiffusion.fixtures.subset").isNotBlank();
        return Path.of(subset).resolveSibling("generated");
    }
}
