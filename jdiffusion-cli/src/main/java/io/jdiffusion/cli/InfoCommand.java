package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.ModelInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jdiffusion info MODEL}: what the loader makes of a checkpoint. */
@Command(name = "info", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Describe a model: family, prediction type, network sizes.")
final class InfoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "A checkpoint file or a diffusers model folder.")
    Path model;

    @Option(names = "--config", paramLabel = "DIR", description = "A diffusers-style config folder for a single-file checkpoint.")
    Path configDir;

    @Override
    public Integer call() {
        if (!Files.exists(model)) throw new JDiffusionException(model + ": no such file or directory");
        if (configDir != null && !Files.isDirectory(configDir)) {
            throw new JDiffusionException("--config: " + configDir + ": no such directory");
        }
        spec.commandLine().getOut().print(describe(model, configDir));
        spec.commandLine().getOut().flush();
        return 0;
    }

    static String describe(Path model, Path configDir) {
        return ModelInfo.describe(ModelLoader.load(model, configDir));
    }
}
