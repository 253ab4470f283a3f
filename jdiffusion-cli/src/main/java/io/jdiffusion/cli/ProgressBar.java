package io.jdiffusion.cli;

import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.tensor.Tensor;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Sampling progress on stderr: step/total, speed and time left. On a terminal, one bar redrawn in
 * place; otherwise (a log file, a pipe) plain lines, at most one a second, and only once a run has
 * taken more than two seconds so quick runs stay quiet.
 */
final class ProgressBar implements StepListener, AutoCloseable {
    private static final int BAR_WIDTH = 24;
    private static final long QUIET_NANOS = 2_000_000_000L;
    private static final long LINE_INTERVAL_NANOS = 1_000_000_000L;

    private final PrintWriter err;
    private final boolean terminal;
    private final LongSupplier clock;
    private final long start;
    private long firstStepAt = -1;
    private int firstStep;
    private long lastLineAt;
    private boolean linePrinted;
    private boolean barDrawn;

    ProgressBar(PrintWriter err, boolean terminal, LongSupplier nanoClock) {
        this.err = err;
        this.terminal = terminal;
        this.clock = nanoClock;
        this.start = nanoClock.getAsLong();
    }

    /**
     * For the real stderr. Java cannot ask whether stderr itself is a terminal, so the launcher tells
     * us ({@code -Djdiffusion.stderr.tty=true|false}); without it we go by the console.
     */
    static ProgressBar forStderr(PrintWriter err) {
        String told = System.getProperty("jdiffusion.stderr.tty");
        boolean terminal = told != null ? Boolean.parseBoolean(told)
                : System.console() != null && System.console().isTerminal();
        return new ProgressBar(err, terminal, System::nanoTime);
    }

    @Override
    public boolean onStep(int step, int totalSteps, Tensor latents) {
        onStep(step, totalSteps);
        return true;
    }

    void onStep(int step, int totalSteps) {
        long now = clock.getAsLong();
        if (firstStepAt < 0) {
            firstStepAt = now;
            firstStep = step;
        }
        if (terminal) {
            err.print("\r" + bar(step, totalSteps) + "  " + status(step, totalSteps, now) + "   ");
            err.flush();
            barDrawn = true;
        } else if (now - start > QUIET_NANOS && (!linePrinted || now - lastLineAt >= LINE_INTERVAL_NANOS || step == totalSteps)) {
            err.println(status(step, totalSteps, now));
            lastLineAt = now;
            linePrinted = true;
        }
    }

    private static String bar(int step, int total) {
        int filled = total <= 0 ? 0 : (int) Math.min(BAR_WIDTH, (long) step * BAR_WIDTH / total);
        return "[" + "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled) + "]";
    }

    /** "step 7/20, 1.52 it/s, ETA 0:09": the speed over the steps since the first (which includes warm-up). */
    String status(int step, int total, long now) {
        StringBuilder sb = new StringBuilder("step ").append(step).append('/').append(total);
        int stepsTimed = step - firstStep;
        double seconds = (now - firstStepAt) / 1e9;
        if (stepsTimed > 0 && seconds > 0) {
            double perSecond = stepsTimed / seconds;
            sb.append(", ").append(perSecond >= 1
                    ? String.format(Locale.ROOT, "%.2f it/s", perSecond)
                    : String.format(Locale.ROOT, "%.2f s/it", 1 / perSecond));
            sb.append(", ETA ").append(clockTime(Math.round((total - step) / perSecond)));
        }
        return sb.toString();
    }

    static String clockTime(long seconds) {
        long h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, s) : String.format(Locale.ROOT, "%d:%02d", m, s);
    }

    /** Ends the bar's line so later messages start on their own. */
    @Override
    public void close() {
        if (barDrawn) {
            err.println();
            barDrawn = false;
        }
    }
}
