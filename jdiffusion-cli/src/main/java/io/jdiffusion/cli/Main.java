package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.tensor.Ops;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code jdiffusion} command. Exit codes: 0 success, 1 a problem the user can fix (a one-line
 * {@code error: ...}), 2 a command-line usage error, 3 an unexpected failure (one line; the stack
 * trace only with {@code --debug} or {@code JDIFFUSION_DEBUG=1}).
 */
@Command(name = "jdiffusion",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Stable Diffusion in pure Java.",
        subcommandsRepeatable = false,
        commandListHeading = "%nCommands:%n")
public final class Main implements Runnable {
    static final int EXIT_USER_ERROR = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_INTERNAL = 3;

    @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces of unexpected errors (also JDIFFUSION_DEBUG=1).")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "no command given (try txt2img or info)");
    }

    /** The commands that run the networks. */
    private static final java.util.Set<String> COMPUTE_COMMANDS = java.util.Set.of("txt2img", "img2img", "inpaint", "outpaint", "upscale", "serve", "bench");

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        if (args.length > 0 && COMPUTE_COMMANDS.contains(args[0])) {
            // compile the kernels while the model loads: a cold JVM runs Vector API code many times slower
            Thread.ofPlatform().daemon().name("kernel-warm-up").start(Ops::warmUp);
        }
        int code;
        try {
            code = commandLine(out, err, Path.of("")).execute(args);
        } catch (OutOfMemoryError e) {
            err.println("error: out of memory (raise the heap with JAVA_OPTS=-Xmx..., or use a smaller size or batch)");
            code = EXIT_INTERNAL;
        }
        out.flush();
        err.flush();
        System.exit(code);
    }

    /**
     * The command line with its error handling, writing to the given streams; relative default output
     * folders ({@code outputs/txt2img}) are resolved against {@code workDir}.
     */
    static CommandLine commandLine(PrintWriter out, PrintWriter err, Path workDir) {
        return commandLine(out, err, workDir, Txt2ImgCommand.TXT2IMG);
    }

    static CommandLine commandLine(PrintWriter out, PrintWriter err, Path workDir, Txt2ImgCommand.Pipeline txt2img) {
        CommandLine cl = new CommandLine(new Main());
        cl.addSubcommand(new Txt2ImgCommand(workDir, txt2img));
        cl.addSubcommand(new Img2ImgCommand(workDir));
        cl.addSubcommand(new InpaintCommand(workDir));
        cl.addSubcommand(new OutpaintCommand(workDir));
        cl.addSubcommand(new Depth2ImgCommand(workDir));
        cl.addSubcommand(UpscaleCommand.commandLine(workDir));
        cl.addSubcommand(new InfoCommand());
        cl.addSubcommand(new WatermarkCommand());
        cl.addSubcommand(new ModelsCommand());
        cl.addSubcommand(new ServeCommand());
        cl.addSubcommand(new BenchCommand());
        cl.addSubcommand(new CommandLine.HelpCommand());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler(Main::usageError);
        cl.setExecutionExceptionHandler(Main::executionError);
        return cl;
    }

    /** Picocli's message on one line, with its suggestion when it has one. */
    private static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        StringBuilder line = new StringBuilder("error: ").append(firstLine(e.getMessage()));
        if (e instanceof CommandLine.UnmatchedArgumentException u) {
            List<String> suggestions = u.getSuggestions();
            if (!suggestions.isEmpty()) line.append(" (did you mean ").append(String.join(" or ", suggestions)).append("?)");
        }
        line.append(" (see '").append(cl.getCommandSpec().qualifiedName()).append(" --help')");
        cl.getErr().println(line);
        return EXIT_USAGE;
    }

    private static int executionError(Exception e, CommandLine cl, ParseResult parsed) {
        PrintWriter err = cl.getErr();
        JDiffusionException userError = userError(e);
        if (userError != null) {
            err.println("error: " + firstLine(userError.getMessage()));
            if (debugRequested(parsed)) e.printStackTrace(err);
            return EXIT_USER_ERROR;
        }
        err.println("error: unexpected " + e.getClass().getSimpleName() + ": " + firstLine(String.valueOf(e.getMessage()))
                + (debugRequested(parsed) ? "" : " (run with --debug for details)"));
        if (debugRequested(parsed)) e.printStackTrace(err);
        return EXIT_INTERNAL;
    }

    /** The user's problem behind an exception, also when a thread pool or a library wrapped it. */
    private static JDiffusionException userError(Throwable e) {
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof JDiffusionException j) return j;
        }
        return null;
    }

    private static boolean debugRequested(ParseResult parsed) {
        if ("1".equals(System.getenv("JDIFFUSION_DEBUG"))) return true;
        for (ParseResult p = parsed; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--debug")) return true;
        }
        return false;
    }

    private static String firstLine(String message) {
        if (message == null) return "";
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).strip();
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[]{
                    Infotext.version(),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")"};
        }
    }
}
