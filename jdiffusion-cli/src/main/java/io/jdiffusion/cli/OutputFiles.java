package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Where images are written: numbered files in an outputs folder, or the user's name with an index. */
final class OutputFiles {
    private static final Pattern NUMBERED = Pattern.compile("^(\\d+)-");

    private OutputFiles() {
    }

    /** {@code folder/00001-<seed>.png}, numbered one past the highest number already there (as A1111 does). */
    static Path nextNumbered(Path folder, long seed) {
        int highest = 0;
        try (Stream<Path> files = Files.list(folder)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Matcher m = NUMBERED.matcher(p.getFileName().toString());
                if (m.find() && m.group(1).length() <= 9) highest = Math.max(highest, Integer.parseInt(m.group(1)));
            }
        } catch (IOException e) {
            throw new JDiffusionException(folder + ": cannot list the output folder (" + e.getMessage() + ")");
        }
        return folder.resolve(String.format("%05d-%s.png", highest + 1, Long.toUnsignedString(seed)));
    }

    /** {@code astronaut.png} → {@code astronaut-2.png}. */
    static Path withIndex(Path file, int index) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String indexed = dot > 0 ? name.substring(0, dot) + "-" + index + name.substring(dot) : name + "-" + index;
        return file.resolveSibling(indexed);
    }
}
