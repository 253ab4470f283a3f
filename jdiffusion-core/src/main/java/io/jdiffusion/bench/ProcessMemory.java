package io.jdiffusion.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident memory as Linux reports it in /proc/self/status: VmRSS now and VmHWM, the peak
 * ("high water mark"). Both count every resident page the process maps: the Java heap, native memory and
 * the pages of memory-mapped checkpoint files that have been touched. Elsewhere both read as -1.
 */
public final class ProcessMemory {
    private static final Path STATUS = Path.of("/proc/self/status");

    private ProcessMemory() {
    }

    /** Peak resident set size in MiB, or -1 where unknown. */
    public static double peakRssMb() {
        return field("VmHWM:");
    }

    /** Current resident set size in MiB, or -1 where unknown. */
    public static double rssMb() {
        return field("VmRSS:");
    }

    /**
     * Bytes this JVM's threads have allocated on the heap so far (live threads and, as the JVM counts it,
     * those that ended), or -1 where the JVM does not say.
     */
    public static long heapAllocatedBytes() {
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean threads
                && threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled()) {
            return threads.getTotalThreadAllocatedBytes();
        }
        return -1;
    }

    /** CPU time this process has used so far, in nanoseconds (all threads), or -1 where the JVM does not say. */
    public static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }

    private static double field(String name) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(name)) {
                    String[] parts = line.substring(name.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) / 1024.0; // the kernel writes kB
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
