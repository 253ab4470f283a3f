package io.jdiffusion.model.dpt;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The generated tiny DPT-Hybrid folder in the test resources ({@code generated/tiny-dpt-hybrid}, see its README). */
public final class TinyDptHybrid {
    private TinyDptHybrid() {
    }

    /** The folder: on this module's classpath, or (from other modules, which see it inside the test jar) in the source tree. */
    public static Path dir() {
        var url = TinyDptHybrid.class.getResource("/generated/tiny-dpt-hybrid/config.json");
        assertThat(url).as("test resource generated/tiny-dpt-hybrid").isNotNull();
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
        Path dir = Path.of(subset).resolveSibling("generated").resolve("tiny-dpt-hybrid");
        assertThat(dir.resolve("config.json")).exists();
        return dir;
    }
}
