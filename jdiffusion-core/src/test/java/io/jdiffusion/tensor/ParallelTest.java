package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ParallelTest {

    /** Every index once, whatever the size and grain, op after op (the workers pick up each new op). */
    @Test
    void everyIndexRunsExactlyOnce() {
        assertThat(Parallel.threads()).isGreaterThanOrEqualTo(1);
        for (int n : new int[]{0, 1, 2, 7, 64, 1000, 4097}) {
            for (int grain : new int[]{1, 3, 100}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(1, n));
                Parallel.forRange(n, grain, (from, to) -> {
                    for (int i = from; i < to; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) assertThat(hits.get(i)).as("n %d grain %d index %d", n, grain, i).isEqualTo(1);
            }
        }
    }

    @Test
    void nestedCallsRunInsideTheirChunk() {
        int n = 64;
        AtomicIntegerArray hits = new AtomicIntegerArray(n * n);
        Parallel.forRange(n, 1, (from, to) -> {
            for (int i = from; i < to; i++) {
                int row = i;
                Parallel.forRange(n, 1, (f, t) -> {
                    for (int j = f; j < t; j++) hits.incrementAndGet(row * n + j);
                });
            }
        });
        for (int i = 0; i < n * n; i++) assertThat(hits.get(i)).isEqualTo(1);
    }

    @Test
    void aFailingChunkFailsTheCallAndTheNextCallWorks() {
        assertThatThrownBy(() -> Parallel.forRange(100, 1, (from, to) -> {
            if (from <= 50 && 50 < to) throw new IllegalArgumentException("chunk with 50");
        })).isInstanceOf(IllegalArgumentException.class).hasMessage("chunk with 50");
        AtomicIntegerArray hits = new AtomicIntegerArray(100);
        Parallel.forRange(100, 1, (from, to) -> {
            for (int i = from; i < to; i++) hits.incrementAndGet(i);
        });
        for (int i = 0; i < 100; i++) assertThat(hits.get(i)).isEqualTo(1);
    }

    /** Two callers at once (the server generating two images) share the team, one op at a time. */
    @Test
    void concurrentCallersBothComplete() {
        int n = 10_000;
        Runnable many = () -> {
            for (int round = 0; round < 200; round++) {
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                Parallel.forRange(n, 10, (from, to) -> {
                    for (int i = from; i < to; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) if (hits.get(i) != 1) throw new AssertionError("index " + i + " ran " + hits.get(i) + " times");
            }
        };
        CompletableFuture<Void> other = CompletableFuture.runAsync(many);
        many.run();
        other.join();
    }

    @Test
    void anotherTeamSizeTakesOver() {
        int before = Parallel.threads();
        try {
            Parallel.setThreads(3);
            assertThat(Parallel.threads()).isEqualTo(3);
            AtomicIntegerArray hits = new AtomicIntegerArray(500);
            Parallel.forRange(500, 1, (from, to) -> {
                for (int i = from; i < to; i++) hits.incrementAndGet(i);
            });
            for (int i = 0; i < 500; i++) assertThat(hits.get(i)).isEqualTo(1);
        } finally {
            Parallel.setThreads(before);
        }
    }
}
