package io.jdiffusion.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

/** One in-process run of the command line, as the tests make it: its exit code and what it printed. */
record CliRun(int exitCode, String out, String err) {
    /** Runs {@code args} with {@code dir} as the working folder, with the real pipeline or {@code pipeline}. */
    static CliRun run(Path dir, Txt2ImgCommand.Pipeline pipeline, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        PrintWriter o = new PrintWriter(out, true), e = new PrintWriter(err, true);
        int code = (pipeline == null ? Main.commandLine(o, e, dir) : Main.commandLine(o, e, dir, pipeline)).execute(args);
        return new CliRun(code, out.toString(), err.toString());
    }
}
