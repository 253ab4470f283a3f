package io.jdiffusion.tensor;

/**
 * Implementation choices that stay switchable while a process runs, so that two versions of an op can be
 * compared step against step in one process (StepCompare in the tests): the shared machines this project is
 * measured on change speed by 2× and more from one minute to the next, too much to compare two processes.
 * Start values come from system properties; each op reads its switch once per call.
 */
public final class Variants {
    private Variants() {
    }

    /** Same-size 3×3 convolutions by Winograd's minimal filtering ({@code -Djdiffusion.winograd=false}: all direct). */
    public static volatile boolean winograd = !"false".equals(System.getProperty("jdiffusion.winograd"));

    /**
     * Winograd F(4×4, 3×3) on the larger maps ({@code -Djdiffusion.winograd4=false}: F(2×2, 3×3) everywhere),
     * see {@code Winograd.tileFor}.
     */
    public static volatile boolean winograd4 = !"false".equals(System.getProperty("jdiffusion.winograd4"));

    /**
     * Products split between threads share their packed blocks and hand out chunks as threads come free
     * ({@code -Djdiffusion.gemmShared=false}: a fixed part per thread, each packing its own copy of the other operand).
     */
    public static volatile boolean gemmShared = !"false".equals(System.getProperty("jdiffusion.gemmShared"));

    /** Sets a switch by its name (the field's), for harnesses that take the name as an argument. */
    public static void set(String name, boolean on) {
        switch (name) {
            case "winograd" -> winograd = on;
            case "winograd4" -> winograd4 = on;
            case "gemmShared" -> gemmShared = on;
            default -> throw unknown(name);
        }
    }

    /** A switch's value by its name. */
    public static boolean get(String name) {
        return switch (name) {
            case "winograd" -> winograd;
            case "winograd4" -> winograd4;
            case "gemmShared" -> gemmShared;
            default -> throw unknown(name);
        };
    }

    private static IllegalArgumentException unknown(String name) {
        return new IllegalArgumentException("no variant switch " + name + " (winograd, winograd4, gemmShared)");
    }
}
