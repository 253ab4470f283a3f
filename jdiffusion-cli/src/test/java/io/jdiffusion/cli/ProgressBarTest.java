package io.jdiffusion.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class ProgressBarTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void quickRunsOffATerminalPrintNothing() {
        AtomicLong now = new AtomicLong();
        StringWriter err = new StringWriter();
        try (ProgressBar bar = new ProgressBar(new PrintWriter(err, true), false, now::get)) {
            for (int step = 1; step <= 20; step++) {
                now.addAndGet(SECOND / 20);
                bar.onStep(step, 20);
            }
        }
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void longRunsOffATerminalPrintAtMostALineASecond() {
        AtomicLong now = new AtomicLong();
        StringWriter err = new StringWriter();
        try (ProgressBar bar = new ProgressBar(new PrintWriter(err, true), false, now::get)) {
            now.addAndGet(3 * SECOND); // loading the model
            for (int step = 1; step <= 20; step++) {
                now.addAndGet(SECOND / 4);
                bar.onStep(step, 20);
            }
        }
        var lines = err.toString().lines().toList();
        assertThat(lines).hasSizeBetween(5, 7);
        assertThat(lines.getLast()).isEqualTo("step 20/20, 4.00 it/s, ETA 0:00");
        assertThat(err.toString()).doesNotContain("\r");
    }

    @Test
    void onATerminalOneBarIsRedrawnAndEndedWithANewline() {
        AtomicLong now = new AtomicLong();
        StringWriter err = new StringWriter();
        try (ProgressBar bar = new ProgressBar(new PrintWriter(err, true), true, now::get)) {
            for (int step = 1; step <= 4; step++) {
                now.addAndGet(2 * SECOND);
                bar.onStep(step, 4);
            }
        }
        String s = err.toString();
        assertThat(s).startsWith("\r[").endsWith("\n").contains("step 2/4, 2.00 s/it, ETA 0:04");
        assertThat(s.chars().filter(c -> c == '\n').count()).isEqualTo(1);
    }

    @Test
    void clockTimes() {
        assertThat(ProgressBar.clockTime(9)).isEqualTo("0:09");
        assertThat(ProgressBar.clockTime(3725)).isEqualTo("1:02:05");
    }
}
