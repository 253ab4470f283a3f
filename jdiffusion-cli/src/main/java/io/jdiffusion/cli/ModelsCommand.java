package io.jdiffusion.cli;

import io.jdiffusion.model.addon.ModelsDir;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jdiffusion models --models-dir DIR}: what an A1111 folder holds, by the names --model, --lora and --vae take. */
@Command(name = "models", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "List the checkpoints, LoRAs, VAEs, hypernetworks and embeddings of an AUTOMATIC1111 folder.")
final class ModelsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--models-dir", required = true, paramLabel = "DIR",
            description = "The A1111 folder (its root, or its models/ folder).")
    Path modelsDir;

    @Override
    public Integer call() {
        ModelsDir dir = ModelsDir.open(modelsDir);
        PrintWriter out = spec.commandLine().getOut();
        out.print(describe(dir));
        out.flush();
        return 0;
    }

    /** One section per kind: its folders, then each file's name (what the other commands take) and size. */
    static String describe(ModelsDir dir) {
        StringBuilder b = new StringBuilder();
        for (ModelsDir.Kind kind : ModelsDir.Kind.values()) {
            List<ModelsDir.Entry> entries = dir.list(kind);
            List<String> folders = dir.folders(kind).stream().map(f -> dir.root().relativize(f).toString()).toList();
            b.append(kind.displayName).append(" (").append(String.join(", ", folders)).append("): ")
                    .append(entries.isEmpty() ? "none" : entries.size()).append('\n');
            int width = entries.stream().mapToInt(e -> e.name().length()).max().orElse(0);
            for (ModelsDir.Entry e : entries) {
                b.append("  ").append(String.format(Locale.ROOT, "%-" + width + "s  %9s", e.name(), size(e.bytes()))).append('\n');
            }
        }
        return b.toString();
    }

    private static String size(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KB", "MB", "GB", "TB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
