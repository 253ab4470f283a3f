package io.jdiffusion.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class OutputFilesTest {

    @Test
    void numbersContinuePastTheHighestAlreadyThere(@TempDir Path dir) throws IOException {
        assertThat(OutputFiles.nextNumbered(dir, 42)).isEqualTo(dir.resolve("00001-42.png"));
        Files.createFile(dir.resolve("00003-7.png"));
        Files.createFile(dir.resolve("00010-99.png"));
        Files.createFile(dir.resolve("notes.txt"));
        Files.createFile(dir.resolve("2024-notes-without-number.txt"));
        assertThat(OutputFiles.nextNumbered(dir, -1L)).isEqualTo(dir.resolve("02025-18446744073709551615.png"));
    }

    @Test
    void indexGoesBeforeTheExtension() {
        assertThat(OutputFiles.withIndex(Path.of("out/astronaut.png"), 2)).isEqualTo(Path.of("out/astronaut-2.png"));
        assertThat(OutputFiles.withIndex(Path.of("a.b.png"), 1)).isEqualTo(Path.of("a.b-1.png"));
    }
}
