package io.jdiffusion.model.dpt;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The generated tiny DPT-Hybrid folder in the test resources ({@code generated/tiny-dpt-hybrid}, see its README). */
public final class TinyDptHybrid {
    private TinyDptHybrid() {
    }

    public static Path dir() {
        var url = TinyDptHybrid.class.getResource("/generated/tiny-dpt-hybrid/config.json");
        assertThat(url).as("test resource generated/tiny-dpt-hybrid").isNotNull();
        try {
            return Path.of(url.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
