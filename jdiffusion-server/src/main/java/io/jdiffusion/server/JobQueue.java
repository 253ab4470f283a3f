package io.jdiffusion.server;

import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.model.ModelFamily;
import io.jdiffusion.tensor.Tensor;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Runs one job at a time on a single generation thread; up to {@code capacity} more wait in FIFO
 * order, and one more is refused with 503 and a Retry-After. The running job's progress (step,
 * latest latents, interruption) is what {@code GET /sdapi/v1/progress} reports.
 *
 * <p>A job belongs to the queue, not to the HTTP exchange that asked for it: when a client goes away
 * its job still runs to the end and its answer is dropped, so nothing is left half-done.
 */
final class JobQueue implements AutoCloseable {
    /** Seconds a refused client is told to wait: a guess at one job, as a client needs a number. */
    static final int RETRY_AFTER_SECONDS = 10;
    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyyMMddHHmmss");

    /** Work for the generation thread. */
    @FunctionalInterface
    interface Job<T> {
        T run(Progress progress) throws Exception;
    }

    private final ThreadPoolExecutor executor;
    private volatile Progress running;

    JobQueue(int capacity) {
        if (capacity < 0) throw new IllegalArgumentException("queue capacity " + capacity);
        BlockingQueue<Runnable> waiting = capacity == 0 ? new SynchronousQueue<>() : new ArrayBlockingQueue<>(capacity);
        executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, waiting, r -> {
            Thread t = new Thread(r, "jdiffusion-generate");
            t.setDaemon(true); // a stuck job must not keep the JVM alive after the server stops
            return t;
        }, new ThreadPoolExecutor.AbortPolicy());
    }

    /** Queues the job; a full queue is a 503 for the caller. */
    <T> Future<T> submit(Job<T> job) {
        try {
            return executor.submit(() -> {
                Progress progress = new Progress();
                running = progress;
                try {
                    return job.run(progress);
                } finally {
                    running = null;
                }
            });
        } catch (RejectedExecutionException e) {
            if (executor.isShutdown()) throw new ApiException(ApiException.UNAVAILABLE, null, "the server is stopping");
            throw new ApiException(ApiException.UNAVAILABLE, null, "the queue is full (" + waiting() + " jobs waiting); retry later");
        }
    }

    /** Jobs waiting behind the running one. */
    int waiting() {
        return executor.getQueue().size();
    }

    /** The running job's progress, or null when none runs. */
    Progress running() {
        return running;
    }

    /** Asks the running job, if any, to stop after its current step. */
    void interrupt() {
        Progress p = running;
        if (p != null) p.interrupt();
    }

    @Override
    public void close() {
        interrupt();
        executor.shutdownNow();
    }

    /**
     * What one job has done so far, written by the generation thread (through {@link #listener}) and
     * read by any thread. A job of several batches ({@code n_iter}) reports each in turn.
     */
    static final class Progress {
        final String timestamp = LocalDateTime.now().format(TIMESTAMP);
        private final long startNanos = System.nanoTime();
        private volatile boolean interrupted;
        private volatile int batch, batches = 1;
        private volatile int step, totalSteps;
        private volatile Tensor latents; // a copy of the latest step's latents, for previews
        private volatile ModelFamily family; // the running model's, which picks how previews are drawn

        void interrupt() {
            interrupted = true;
        }

        boolean interrupted() {
            return interrupted;
        }

        /** The listener for batch {@code index} of {@code count}: records each step, stops when interrupted. */
        StepListener listener(int index, int count) {
            batch = index;
            batches = count;
            step = 0;
            return (s, total, x) -> {
                latents = x.copy();
                totalSteps = total;
                step = s;
                return !interrupted;
            };
        }

        int batch() {
            return batch;
        }

        int batches() {
            return batches;
        }

        int step() {
            return step;
        }

        int totalSteps() {
            return totalSteps;
        }

        Tensor latents() {
            return latents;
        }

        /** Told by the job once its model is loaded. */
        void family(ModelFamily f) {
            family = f;
        }

        /** The running model's family, null before it is loaded. */
        ModelFamily family() {
            return family;
        }

        /** 0..1 over all the job's batches. */
        double fraction() {
            int total = totalSteps;
            double inBatch = total == 0 ? 0 : (double) step / total;
            return Math.min(1.0, (batch + inBatch) / Math.max(1, batches));
        }

        /** Seconds left, extrapolated from the time so far (A1111's eta_relative). */
        double etaSeconds() {
            double done = fraction();
            double elapsed = (System.nanoTime() - startNanos) / 1e9;
            return done <= 0 ? 0 : elapsed / done - elapsed;
        }
    }
}
