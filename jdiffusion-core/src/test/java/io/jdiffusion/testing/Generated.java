package io.jdiffusion.testing;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The references this repository generates itself (core's test resources {@code generated/<name>/}, each with a
 * README saying what produced it), as opposed to the shared {@link Fixtures}.
 */
public final class Generated {
    private Generated() {
    }

    /** The folder: on this module's classpath, or (from other modules, which see it inside the test jar) in the source tree. */
    public static Path dir(String name) {
        var url = Generated.class.getResource("/generated/" + name + "/README.md");
        assertThat(url).as("test resource generated/%s", name).isNotNull();
        if (url.getProtocol().equals("file")) {
            try {
                return Path.of(url.toURI()).getParent();
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        // the build points every module at core's fixture subset, which sits beside generated/ in the test resources
        String subset = System.getProperty("jdiffusion.fixtures.subset");
        assertThat(subset).as("system property jdiffusion.fixtures.subset").isNotBlank();
        Path dir = Path.of(subset).resolveSibling("generated").resolve(name);
        assertThat(dir.resolve("README.md")).exists();
        return dir;
    }
}
