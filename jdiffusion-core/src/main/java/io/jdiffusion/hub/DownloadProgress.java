package io.jdiffusion.hub;

import java.io.PrintWriter;
import java.util.Locale;

/** Told how a file's download goes; the CLI draws a one-line bar on stderr. */
public interface DownloadProgress {
    /** A download starts: {@code total} bytes (-1 if unknown), of which {@code done} are already here (a resume). */
    void start(String file, long total, long done);

    void advance(long bytes);

    /** The download ended, well or not. */
    void finish();

    DownloadProgress NONE = new DownloadProgress() {
        @Override
        public void start(String file, long total, long done) {
        }

        @Override
        public void advance(long bytes) {
        }

        @Override
        public void finish() {
        }
    };

    /** A bar redrawn in place with '\r', at most five times a second. */
    static DownloadProgress bar(PrintWriter err) {
        return new DownloadProgress() {
            private String file;
            private long total;
            private long done;
            private long startDone;
            private long startNanos;
            private long lastDraw;

            @Override
            public void start(String file, long total, long done) {
                this.file = file;
                this.total = total;
                this.done = done;
                this.startDone = done;
                this.startNanos = System.nanoTime();
                this.lastDraw = 0;
                draw();
            }

            @Override
            public void advance(long bytes) {
                done += bytes;
                long now = System.nanoTime();
                if (now - lastDraw > 200_000_000L) draw();
            }

            @Override
            public void finish() {
                draw();
                err.println();
                err.flush();
            }

            private void draw() {
                lastDraw = System.nanoTime();
                double seconds = Math.max(1e-3, (lastDraw - startNanos) / 1e9);
                double rate = (done - startDone) / seconds;
                String amount = total > 0
                        ? String.format(Locale.ROOT, "%3d%% %s/%s", (int) (100 * done / total), mb(done), mb(total))
                        : mb(done);
                err.print(String.format(Locale.ROOT, "\rdownloading %s %s %s/s   ", file, amount, mb((long) rate)));
                err.flush();
            }

            private static String mb(long bytes) {
                return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
            }
        };
    }
}
