package io.jdiffusion.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/** The one thread pool every kernel shares. Size: -Djdiffusion.threads, else the machine's cores. */
public final class Parallel {
    private static volatile ForkJoinPool pool = newPool(Integer.getInteger("jdiffusion.threads",
            Runtime.getRuntime().availableProcessors()));

    private Parallel() {
    }

    private static ForkJoinPool newPool(int threads) {
        return new ForkJoinPool(Math.max(1, threads));
    }

    public static int threads() {
        return pool.getParallelism();
    }

    /** Replaces the pool (the CLI's --threads). */
    public static synchronized void setThreads(int threads) {
        if (threads != threads()) {
            ForkJoinPool old = pool;
            pool = newPool(threads);
            old.shutdown();
        }
    }

    public interface RangeBody {
        void run(int from, int to);
    }

    /**
     * Runs body over [0, n) split into contiguous chunks of at least {@code grain} items, on the shared
     * pool; inline when the work is small or when already inside the pool.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        int chunks = Math.min(threads() * 4, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || threads() == 1 || java.util.concurrent.ForkJoinTask.getPool() == pool) {
            body.run(0, n);
            return;
        }
        int per = (n + chunks - 1) / chunks;
        pool.invoke(new RecursiveAction() {
            @Override
            protected void compute() {
                RecursiveAction[] tasks = new RecursiveAction[chunks];
                int count = 0;
                for (int c = 0; c < chunks; c++) {
                    int from = c * per, to = Math.min(n, from + per);
                    if (from >= to) break;
                    tasks[count++] = new RecursiveAction() {
                        @Override
                        protected void compute() {
                            body.run(from, to);
                        }
                    };
                }
                invokeAll(java.util.Arrays.copyOf(tasks, count));
            }
        });
    }
}
