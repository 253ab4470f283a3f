package io.jdiffusion.testing;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The generated tiny SDXL refiner (resources generated/tiny-sdxl-refiner) as a whole diffusers folder: the committed
 * parts with the shared tiny SDXL base's second text encoder and tokenizer beside them, which the refiner was made
 * with (too large to commit twice). Skips the calling test when either fixture is missing.
 */
public final class TinySdxlRefiner {
    private TinySdxlRefiner() {
    }

    /** The generated fixture folder: cases.json, reference images and latents, the committed model parts. */
    public static Path fixture() {
        return Generated.require("tiny-sdxl-refiner");
    }

    /** The case of this name in the fixture's cases.json. */
    public static JsonNode testCase(String name) {
        for (JsonNode c : Json.read(fixture().resolve("cases.json")).get("cases")) {
            if (c.get("name").asText().equals(name)) return c;
        }
        throw new IllegalArgumentException("no case " + name + " in tiny-sdxl-refiner/cases.json");
    }

    /** Assembles the refiner folder under {@code dir} and returns it. */
    public static Path assemble(Path dir) {
        Path base = Fixtures.require("tiny-sdxl");
        Path folder = dir.resolve("tiny-sdxl-refiner");
        copy(fixture(), folder);
        copy(base.resolve("text_encoder_2"), folder.resolve("text_encoder_2"));
        copy(base.resolve("tokenizer_2"), folder.resolve("tokenizer_2"));
        return folder;
    }

    /** Copies the folder {@code from} (files and subfolders) to {@code to}. */
    public static void copy(Path from, Path to) {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
