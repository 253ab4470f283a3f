package io.jdiffusion.testing;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.Json;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * The reference fixtures: {@code ../shared/fixtures} (or {@code -Djdiffusion.fixtures=DIR}), falling back
 * file by file to the small subset kept in this module's test resources ({@code fixtures/}), so a fresh
 * clone still proves parity. A test whose file is in neither place is skipped, never passed.
 */
public final class Fixtures {
    private Fixtures() {
    }

    private static Path sharedRoot() {
        String prop = System.getProperty("jdiffusion.fixtures");
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        return Path.of("..", "shared", "fixtures");
    }

    /** The subset in the source tree (set by the build for every module), else on this module's classpath. */
    private static Path subsetRoot() {
        String prop = System.getProperty("jdiffusion.fixtures.subset");
        if (prop != null && !prop.isBlank() && Files.isDirectory(Path.of(prop))) return Path.of(prop);
        var url = Fixtures.class.getClassLoader().getResource("fixtures");
        if (url == null || !url.getProtocol().equals("file")) return null;
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            return null;
        }
    }

    /** The fixture file or folder at this relative path, or null when neither place has it. */
    public static Path find(String relative) {
        Path shared = sharedRoot().resolve(relative);
        if (Files.exists(shared)) return shared;
        Path subset = subsetRoot();
        if (subset == null) return null;
        if (Files.exists(subset.resolve(relative))) return subset.resolve(relative);
        Path packed = subset.resolve(relative + ".gz");
        return Files.isRegularFile(packed) ? unpacked(packed, relative) : null;
    }

    /**
     * A subset file kept gzipped (the tiny model: see the subset's README), unpacked once per JVM into a temporary
     * folder under the same relative path and file name, since the loader maps files.
     */
    private static synchronized Path unpacked(Path packed, String relative) {
        try {
            if (unpackedRoot == null) {
                unpackedRoot = Files.createTempDirectory("jdiffusion-fixtures");
                unpackedRoot.toFile().deleteOnExit();
            }
            Path target = unpackedRoot.resolve(relative);
            if (!Files.exists(target)) {
                Files.createDirectories(target.getParent());
                try (InputStream in = new GZIPInputStream(Files.newInputStream(packed))) {
                    Files.copy(in, target);
                }
                target.toFile().deleteOnExit();
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack " + packed, e);
        }
    }

    private static Path unpackedRoot;

    /** The fixture at this path; skips the calling test when it is not available. */
    public static Path require(String relative) {
        Path p = find(relative);
        Assumptions.assumeTrue(p != null, "fixture not available: " + relative);
        return p;
    }

    /**
     * The tiny SD 1.x model: its diffusers folder, or else its single original-layout file (the same
     * weights, as ModelLoaderTest proves; the in-repo subset keeps only the file).
     */
    public static Path tinySd15() {
        Path folder = find("tiny-sd15");
        return folder != null ? folder : require("tiny-sd15.safetensors");
    }

    /** The tiny SD 1.x UNet's reference call (tiny-sd15-ref/unet.safetensors): its inputs and diffusers' output. */
    public record UNetCall(Tensor sample, Tensor encoderHiddenStates, float timestep, Tensor out) {
    }

    public static UNetCall tinySd15UNetCall() {
        SafeTensors ref = tensors("tiny-sd15-ref/unet.safetensors");
        return new UNetCall(tensor(ref, "sample"), tensor(ref, "encoder_hidden_states"), tensor(ref, "timestep").data[0],
                tensor(ref, "out"));
    }

    /** cases.json's "cases" array. */
    public static List<JsonNode> cases() {
        JsonNode root = Json.read(require("cases.json"));
        List<JsonNode> out = new ArrayList<>();
        root.get("cases").forEach(out::add);
        return out;
    }

    public static List<JsonNode> cases(String kind) {
        return cases().stream().filter(c -> kind.equals(c.path("kind").asText())).toList();
    }

    public static SafeTensors tensors(String relative) {
        return SafeTensors.open(require(relative));
    }

    /** A stored reference tensor as an activation tensor (float32 compute). */
    public static Tensor tensor(SafeTensors file, String name) {
        Weight w = file.get(name);
        int[] shape = new int[w.rank()];
        for (int i = 0; i < shape.length; i++) shape[i] = w.dim(i);
        return new Tensor(w.toFloats(), shape);
    }

    /** ‖a − b‖ / ‖b‖, the fixtures' measure for network outputs. */
    public static double relativeError(float[] actual, float[] expected) {
        if (actual.length != expected.length) throw new AssertionError("length " + actual.length + " != " + expected.length);
        double num = 0, den = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = actual[i] - expected[i];
            num += d * d;
            den += (double) expected[i] * expected[i];
        }
        return Math.sqrt(num) / Math.sqrt(den);
    }
}
