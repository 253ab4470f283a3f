package io.jdiffusion.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Wall time per kind of {@link Ops} call, for finding where a step's time goes: off unless the JVM runs
 * with {@code -Djdiffusion.profile=true}, then printed to stderr (kinds by total time) when the JVM exits.
 * Calls from inside another op (none today) would be counted twice. {@link #section} groups them by phase.
 */
public final class OpProfile {
    private OpProfile() {
    }

    /** The phase the next calls belong to (their kinds are prefixed with it); null for none. */
    private static volatile String section;

    /** Counts the following calls under {@code name} (e.g. the bench's "unet" steps), apart from the others. */
    public static void section(String name) {
        section = name;
    }

    static final boolean ON = Boolean.getBoolean("jdiffusion.profile");

    private record Entry(LongAdder nanos, LongAdder calls) {
    }

    private static final Map<String, Entry> TIMES = new ConcurrentHashMap<>();

    static {
        if (ON) Runtime.getRuntime().addShutdownHook(new Thread(OpProfile::print));
    }

    static long start() {
        return ON ? System.nanoTime() : 0L;
    }

    /** Adds the time since t0 to the kind {@code kind}. */
    static void stop(long t0, String kind) {
        if (!ON) return;
        long dt = System.nanoTime() - t0;
        String phase = section;
        Entry e = TIMES.computeIfAbsent(phase == null ? kind : phase + ": " + kind, k -> new Entry(new LongAdder(), new LongAdder()));
        e.nanos.add(dt);
        e.calls.increment();
    }

    private static void print() {
        List<Map.Entry<String, Entry>> rows = new ArrayList<>(TIMES.entrySet());
        rows.sort((a, b) -> Long.compare(b.getValue().nanos.sum(), a.getValue().nanos.sum()));
        double total = rows.stream().mapToLong(r -> r.getValue().nanos.sum()).sum() / 1e9;
        StringBuilder sb = new StringBuilder(String.format("op profile: %.3f s in Ops%n", total));
        for (Map.Entry<String, Entry> r : rows) {
            double s = r.getValue().nanos.sum() / 1e9;
            sb.append(String.format("%9.3f s %5.1f %% %7d  %s%n", s, 100 * s / total, r.getValue().calls.sum(), r.getKey()));
        }
        System.err.print(sb);
    }
}
