package io.jdiffusion.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The threads every kernel shares: the calling thread and {@link #threads()} − 1 workers. Size:
 * -Djdiffusion.threads, else the machine's cores.
 *
 * <p>Not a ForkJoinPool, because of how a network runs: thousands of parallel ops per UNet step, with short
 * serial stretches between them. An idle pool thread parks at once, and waking it costs a system call and,
 * on a virtual machine whose virtual CPU went idle meanwhile, the host rescheduling that CPU, which on a busy
 * host takes from microseconds to milliseconds, per op. Here a worker spins for {@link #SPIN_NANOS} after
 * its last chunk before it parks (as OpenMP runtimes do), and the caller takes chunks too instead of waiting.
 */
public final class Parallel {
    /** How long an idle worker keeps looking for the next op before it parks: longer than the serial gaps of a step. */
    static final long SPIN_NANOS = Long.getLong("jdiffusion.spinMicros", 2000) * 1000;

    private static volatile Team team = new Team(Integer.getInteger("jdiffusion.threads",
            Runtime.getRuntime().availableProcessors()));

    private Parallel() {
    }

    public static int threads() {
        return team.size;
    }

    /** Replaces the team (the CLI's --threads). */
    public static synchronized void setThreads(int threads) {
        if (Math.max(1, threads) != threads()) {
            Team old = team;
            team = new Team(threads);
            old.shutdown();
        }
    }

    public interface RangeBody {
        void run(int from, int to);
    }

    /**
     * Runs body over [0, n) split into contiguous chunks of at least {@code grain} items (the last one excepted),
     * which the caller and the workers take as they come free, the chunks shrinking towards the end (see
     * {@link Job}); on the calling thread alone when there are fewer than two grains of work, when there is one
     * thread, or when called from inside a chunk (nested).
     */
    public static void forRange(int n, int grain, RangeBody body) {
        Team t = team;
        int g = Math.max(1, grain);
        if (n < 2 * g || t.size == 1 || Team.IN_CHUNK.get()) {
            body.run(0, n);
            return;
        }
        t.run(n, g, body);
    }

    /**
     * One parallel op: its items, taken in chunks by whoever comes first. Each chunk is a share of what is left
     * ({@code 1/(2·threads)} of it, at least the grain), so the chunks shrink as the op goes: the first ones are
     * large (few hand-offs) and the last ones small, so that the threads finish close together. Fixed chunks of
     * an eighth of the op left the thread that finished first idle for up to a chunk, 8–11 % of two threads'
     * time in the UNet's products (measured per op, docs/PERFORMANCE.md).
     */
    private static final class Job {
        final long generation;
        final RangeBody body;
        final int n, grain, share;
        final AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
        volatile Throwable failure;

        Job(long generation, RangeBody body, int n, int grain, int threads) {
            this.generation = generation;
            this.body = body;
            this.n = n;
            this.grain = grain;
            this.share = 2 * threads;
        }

        void work() {
            Team.IN_CHUNK.set(true);
            try {
                for (int from; (from = next.get()) < n; ) {
                    int to = Math.min(n, from + Math.max(grain, (n - from + share - 1) / share));
                    if (!next.compareAndSet(from, to)) continue;
                    try {
                        if (failure == null) body.run(from, to);
                    } catch (Throwable e) {
                        failure = e;
                    } finally {
                        done.addAndGet(to - from);
                    }
                }
            } finally {
                Team.IN_CHUNK.set(false);
            }
        }
    }

    private static final class Team {
        /** Whether this thread is running a chunk (a nested forRange then runs inline). */
        static final ThreadLocal<Boolean> IN_CHUNK = ThreadLocal.withInitial(() -> false);

        final int size;
        private final Worker[] workers;
        /** One op at a time: a second caller (two images generated at once) waits for the op in progress. */
        private final ReentrantLock lock = new ReentrantLock();
        /** The op in progress, null between ops (so that nothing keeps its arrays reachable). */
        private volatile Job job;
        private long generations;
        private volatile boolean shutdown;

        Team(int threads) {
            size = Math.max(1, threads);
            workers = new Worker[size - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(this);
                workers[i].thread = Thread.ofPlatform().daemon().name("jdiffusion-worker-" + (i + 1)).start(workers[i]);
            }
        }

        void run(int n, int grain, RangeBody body) {
            lock.lock();
            try {
                Job j = new Job(++generations, body, n, grain, size);
                job = j;
                for (Worker w : workers) {
                    if (w.parked) LockSupport.unpark(w.thread);
                }
                j.work();
                while (j.done.get() < n) Thread.onSpinWait();
                job = null;
                Throwable failure = j.failure;
                if (failure instanceof RuntimeException e) throw e;
                if (failure instanceof Error e) throw e;
                if (failure != null) throw new IllegalStateException(failure);
            } finally {
                lock.unlock();
            }
        }

        void shutdown() {
            shutdown = true;
            for (Worker w : workers) LockSupport.unpark(w.thread);
        }
    }

    private static final class Worker implements Runnable {
        private final Team team;
        volatile Thread thread;
        /** Set before parking and checked by the dispatcher after it publishes a job (each sees the other's write). */
        volatile boolean parked;

        Worker(Team team) {
            this.team = team;
        }

        @Override
        public void run() {
            long seen = 0;
            while (true) {
                Job j = awaitJob(seen);
                if (j == null) return;
                seen = j.generation;
                j.work();
            }
        }

        /** The next job after generation {@code seen}: spin for a while, then park until the dispatcher wakes us. */
        private Job awaitJob(long seen) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (true) {
                Job j = team.job;
                if (j != null && j.generation != seen) return j;
                if (team.shutdown) return null;
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true;
                j = team.job;
                if (j != null && j.generation != seen || team.shutdown) {
                    parked = false;
                    continue;
                }
                LockSupport.park(this);
                parked = false;
                spinUntil = System.nanoTime() + SPIN_NANOS;
            }
        }
    }
}
