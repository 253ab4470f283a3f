package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The page in a real headless Chromium, driven by {@code src/test/browser/page-test.mjs} (Playwright's
 * {@code playwright-core} over the system's Chromium): type a prompt, generate (interrupting a long run
 * first, which shows the progress preview), send the result to the inpaint tab, paint a mask stroke with
 * the mouse and inpaint. The script waits and measures; this test makes the assertions.
 *
 * <p>It needs Node.js, Chromium and {@code npm ci} run in {@code src/test/browser}. Without them it is
 * skipped, saying what is missing, unless {@code JDIFFUSION_REQUIRE_BROWSER=1} (set by {@code .ci/run},
 * which installs them): then a missing piece fails the build instead of hiding.
 */
class BrowserTest {
    /** The browser executable, when it is not one of the usual names on the PATH. */
    static final String CHROMIUM_ENV = "JDIFFUSION_CHROMIUM";
    static final String REQUIRE_ENV = "JDIFFUSION_REQUIRE_BROWSER";
    private static final List<String> CHROMIUM_NAMES = List.of("chromium", "chromium-browser", "google-chrome-stable",
            "google-chrome");
    private static final long SCRIPT_TIMEOUT_MINUTES = 8;

    private static JDiffusionServer server;

    @BeforeAll
    static void start() {
        server = JDiffusionServer.start(ServerOptions.of(Fixtures.tinySd15().toString(), null).withPort(0)
                .withWatermark(false));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Test
    void generateThenInpaintInThePage() throws Exception {
        Path scripts = moduleDir().resolve("src/test/browser");
        Path node = executable(List.of("node", "nodejs"), null)
                .orElseGet(() -> missing("Node.js (node) is not on the PATH"));
        Path chromium = executable(CHROMIUM_NAMES, System.getenv(CHROMIUM_ENV))
                .orElseGet(() -> missing("no Chromium found (" + String.join(", ", CHROMIUM_NAMES) + " on the PATH, or "
                        + CHROMIUM_ENV + ")"));
        if (!Files.isRegularFile(scripts.resolve("node_modules/playwright-core/package.json"))) {
            missing("playwright-core is not installed: run `npm ci` in " + scripts);
        }
        Path artifacts = moduleDir().resolve("target/browser-test");

        ProcessBuilder pb = new ProcessBuilder(node.toString(), "page-test.mjs").directory(scripts.toFile())
                .redirectErrorStream(true);
        pb.environment().put("JDIFFUSION_URL", server.url());
        pb.environment().put("CHROMIUM", chromium.toString());
        pb.environment().put("ARTIFACTS", artifacts.toString());
        Process process = pb.start();
        process.getOutputStream().close();
        byte[] output;
        try (var in = process.getInputStream()) {
            output = in.readAllBytes(); // ends when the script (and the browser it started) exits
        }
        boolean ended = process.waitFor(SCRIPT_TIMEOUT_MINUTES, TimeUnit.MINUTES);
        if (!ended) process.destroyForcibly();
        String text = new String(output, StandardCharsets.UTF_8);
        System.out.print(text);
        assertThat(ended).as("page-test.mjs ended").isTrue();
        assertThat(process.exitValue()).as("page-test.mjs failed (screenshot and console in " + artifacts + "):\n" + text)
                .isZero();

        JsonNode r = result(text);
        assertThat(r.get("samplers").asInt()).as("samplers listed").isPositive();

        // the long run showed its progress and a preview at latent size, then stopped when asked
        assertThat(r.get("preview").get("width").asInt()).as("preview width").isEqualTo(128 / 8);
        assertThat(r.get("preview").get("height").asInt()).as("preview height").isEqualTo(64 / 8);
        assertThat(r.get("interruptedProgressText").asText()).isEqualTo("interrupted");
        assertThat(r.get("interruptedInfotext").asText()).contains("Steps: 1000");

        assertDecoded(r.get("txt2img"), 128, 64);
        assertThat(r.get("txt2imgInfotext").asText()).startsWith("a red apple on a wooden table\n")
                .contains("Steps: 8", "Seed: 1234", "Size: 128x64");

        // inpaint: the page sent the picture and a mask at its size, white on the stroke, black far from it
        assertThat(r.get("initSizeText").asText()).startsWith("128×64");
        JsonNode whole = r.get("inpaint");
        assertInpainted(whole, 1, false);
        assertThat(whole.get("infotext").asText()).contains("Denoising strength: 0.9", "Mask blur: 4", "Seed: 99")
                .doesNotContain("Masked content", "Inpaint area");
        JsonNode onlyMasked = r.get("onlyMasked");
        assertInpainted(onlyMasked, 0, true);
        assertThat(onlyMasked.get("request").get("inpaint_full_res_padding").asInt()).isEqualTo(32);
        assertThat(onlyMasked.get("infotext").asText()).contains("Masked content: fill", "Inpaint area: Only masked",
                "Masked area padding: 32");
        assertThat(r.get("errorShown").asBoolean()).as("an error shown on the page").isFalse();
    }

    /**
     * One inpainting from the page: what it sent, and the result: decoded at the picture's size, unchanged
     * far from the stroke, changed under it.
     */
    private static void assertInpainted(JsonNode inpaint, int fill, boolean onlyMasked) {
        JsonNode request = inpaint.get("request");
        assertThat(request.get("hasInitImage").asBoolean()).isTrue();
        assertThat(request.get("width").asInt()).isEqualTo(128);
        assertThat(request.get("height").asInt()).isEqualTo(64);
        assertThat(request.get("denoising_strength").asDouble()).isEqualTo(0.9);
        assertThat(request.get("inpainting_fill").asInt()).isEqualTo(fill);
        assertThat(request.get("inpaint_full_res").asBoolean()).isEqualTo(onlyMasked);
        JsonNode mask = inpaint.get("mask");
        assertThat(mask.get("width").asInt()).isEqualTo(128);
        assertThat(mask.get("height").asInt()).isEqualTo(64);
        assertThat(mask.get("strokeWhite").asInt()).as("mask white along the stroke").isEqualTo(mask.get("strokeCount").asInt());
        assertThat(mask.get("farNotBlack").asInt()).as("mask pixels set far from the stroke").isZero();

        assertDecoded(inpaint.get("image"), 128, 64);
        JsonNode change = inpaint.get("change");
        assertThat(change.get("sameSize").asBoolean()).isTrue();
        assertThat(change.get("farValues").asInt()).isPositive();
        assertThat(change.get("farMaxDelta").asInt()).as("largest change far from the stroke").isZero();
        assertThat(change.get("coreValues").asInt()).isPositive();
        assertThat(change.get("coreMeanDelta").asDouble()).as("mean change under the stroke").isGreaterThan(4);
    }

    private static void assertDecoded(JsonNode image, int width, int height) {
        assertThat(image.get("complete").asBoolean()).isTrue();
        assertThat(image.get("width").asInt()).as("decoded width").isEqualTo(width);
        assertThat(image.get("height").asInt()).as("decoded height").isEqualTo(height);
    }

    private static JsonNode result(String output) throws IOException {
        String line = output.lines().filter(l -> l.startsWith("RESULT ")).reduce((a, b) -> b)
                .orElseThrow(() -> new AssertionError("page-test.mjs printed no RESULT line:\n" + output));
        return ApiClient.JSON.readTree(line.substring("RESULT ".length()));
    }

    /** Skips the test, or fails it when {@code JDIFFUSION_REQUIRE_BROWSER=1} (CI, which installs everything). */
    private static <T> T missing(String what) {
        if ("1".equals(System.getenv(REQUIRE_ENV))) {
            Assertions.fail(what + " (" + REQUIRE_ENV + "=1: the browser test must run; .ci/run installs what it needs)");
        }
        Assumptions.abort("browser test skipped: " + what + " (see the README's testing section)");
        return null;
    }

    /** The module folder: Maven's basedir, or the working directory when run otherwise. */
    private static Path moduleDir() {
        return Path.of(System.getProperty("basedir", "")).toAbsolutePath();
    }

    /** An explicitly given executable, or the first of the names found on the PATH. */
    static Optional<Path> executable(List<String> names, String explicit) {
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            return Files.isRegularFile(p) && Files.isExecutable(p) ? Optional.of(p)
                    : missing(explicit + " (from " + CHROMIUM_ENV + ") is not an executable file");
        }
        List<Path> dirs = new ArrayList<>();
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!d.isEmpty()) dirs.add(Path.of(d));
        }
        for (String name : names) {
            for (Path dir : dirs) {
                Path p = dir.resolve(name);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
