package io.jdiffusion.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Activation arrays kept from one network call to the next, so that a sampler's step loop, which calls the
 * UNet on the same shapes at every step, allocates no feature maps after its first step (no garbage to
 * collect, no fresh pages to zero).
 *
 * <p>A network owns a workspace and runs each call inside {@link #enter()}. While a thread is inside, the
 * ops it runs take their output arrays from the workspace ({@link #floats}, {@link #zeros}) instead of
 * allocating them. An array goes back to the workspace when the {@link Scope} that took it closes, unless
 * that scope {@link Scope#keep keeps} it (a block's output), in which case it belongs to the enclosing scope;
 * {@link #release} hands one back early. Arrays are matched by exact length: the same network on the same
 * shapes asks for the same lengths.
 *
 * <p>The rule that keeps this safe: an array taken inside a scope is not used after the scope closes unless
 * the scope kept it. Results that outlive the call (a cache, the call's output) are made in
 * {@link #unpooled} or copied out before the outermost scope closes.
 *
 * <p>Outside any workspace, and on threads other than the one that entered it (the kernels' worker threads),
 * {@link #floats} is plain allocation and scopes do nothing, so code that uses scopes runs unchanged without one.
 */
public final class Workspace {
    private static final ThreadLocal<Workspace> CURRENT = new ThreadLocal<>();

    /** Fills every array it hands out with NaN (tests: an op that relies on zeroed memory then shows). */
    static volatile boolean poison;

    private final AtomicReference<Thread> owner = new AtomicReference<>();
    /** Whether arrays of other lengths are let go when one must be made (see {@link #forOneCall()}). */
    private final boolean dropOtherLengths;
    private final Map<Integer, ArrayDeque<float[]>> free = new HashMap<>();
    /** Arrays handed out and not yet returned, the open scopes' in order of opening (each scope a suffix). */
    private final ArrayList<float[]> taken = new ArrayList<>();
    /** Where in {@link #taken} the innermost open scope's arrays begin (what {@link #release} may hand back). */
    private int innermostStart;
    private long heldBytes;

    /**
     * A workspace for repeated calls on the same shapes (a sampler's steps): it keeps every array it made,
     * so that from the second call on it makes none.
     */
    public Workspace() {
        this(false);
    }

    private Workspace(boolean dropOtherLengths) {
        this.dropOtherLengths = dropOtherLengths;
    }

    /**
     * A workspace for one long call whose feature maps change size as it goes (a VAE decode): whenever it must
     * make an array, it lets go of the free arrays of other lengths, so that what it holds is never more than
     * what the call needs at once plus arrays of the length in use (the collector takes the rest, as without
     * a workspace).
     */
    public static Workspace forOneCall() {
        return new Workspace(true);
    }

    /**
     * Makes this workspace the calling thread's until the returned scope closes, which takes every array back.
     * If another thread holds it (two generations on one model at once), the call runs without one: plain
     * allocation, as before.
     */
    public Scope enter() {
        Thread me = Thread.currentThread();
        if (CURRENT.get() != null || !owner.compareAndSet(null, me)) return Scope.NONE;
        CURRENT.set(this);
        return new Scope(this, 0, true);
    }

    /** A scope inside the calling thread's workspace (a no-op scope outside one). */
    public static Scope scope() {
        Workspace ws = CURRENT.get();
        return ws == null ? Scope.NONE : new Scope(ws, ws.taken.size(), false);
    }

    /** A float array of n elements, contents unspecified (the op writes every element). */
    public static float[] floats(int n) {
        Workspace ws = CURRENT.get();
        float[] a = ws == null ? new float[n] : ws.take(n);
        if (poison) Arrays.fill(a, Float.NaN);
        return a;
    }

    /** A float array of n zeros. */
    public static float[] zeros(int n) {
        Workspace ws = CURRENT.get();
        if (ws == null) return new float[n];
        float[] a = ws.take(n);
        Arrays.fill(a, 0f);
        return a;
    }

    /**
     * Hands t's array back to the workspace now: the caller will not read t again, nor anything sharing its
     * array. Only arrays taken in the innermost open scope are handed back; anything else (an input of the call,
     * an array of an enclosing scope, an array from outside) is left alone.
     */
    public static void release(Tensor t) {
        release(t.data);
    }

    /** As {@link #release(Tensor)}, for an op's scratch array. */
    static void release(float[] a) {
        Workspace ws = CURRENT.get();
        if (ws != null) ws.releaseInInnermost(a);
    }

    /** next, made from used, which nothing reads any more: {@link #release}s used, returns next. */
    public static Tensor replace(Tensor used, Tensor next) {
        release(used);
        return next;
    }

    /** Runs make with plain allocation: for results that outlive the call, e.g. a cache. */
    public static <T> T unpooled(Supplier<T> make) {
        Workspace ws = CURRENT.get();
        if (ws == null) return make.get();
        CURRENT.remove();
        try {
            return make.get();
        } finally {
            CURRENT.set(ws);
        }
    }

    /** Drops the arrays kept for the next call (e.g. once sampling is over), unless a thread is inside. */
    public void clear() {
        if (!owner.compareAndSet(null, Thread.currentThread())) return;
        try {
            dropFreeArrays();
        } finally {
            owner.set(null);
        }
    }

    /** Bytes of the arrays this workspace holds (handed out or waiting for the next call). */
    public long heldBytes() {
        return heldBytes;
    }

    private float[] take(int n) {
        ArrayDeque<float[]> q = free.get(n);
        float[] a = q == null ? null : q.pollLast();
        if (a == null) {
            if (dropOtherLengths) dropFreeArrays();
            a = new float[n];
            heldBytes += 4L * n;
        }
        taken.add(a);
        return a;
    }

    private void dropFreeArrays() {
        for (ArrayDeque<float[]> q : free.values()) {
            for (float[] a : q) heldBytes -= 4L * a.length;
        }
        free.clear();
    }

    private void giveBack(float[] a) {
        free.computeIfAbsent(a.length, k -> new ArrayDeque<>()).addLast(a);
    }

    private void releaseInInnermost(float[] a) {
        for (int i = taken.size() - 1; i >= innermostStart; i--) {
            if (taken.get(i) == a) {
                taken.remove(i);
                giveBack(a);
                return;
            }
        }
    }

    /**
     * The arrays a region of code took: closing it hands them back, except those it {@link #keep kept}, which
     * pass to the enclosing scope. Scopes close in the reverse order of opening (try-with-resources).
     */
    public static final class Scope implements AutoCloseable {
        static final Scope NONE = new Scope(null, 0, false);

        private final Workspace ws;
        private final int start;
        private final int enclosingStart;
        private final boolean outermost;
        private float[][] kept = new float[0][];

        private Scope(Workspace ws, int start, boolean outermost) {
            this.ws = ws;
            this.start = start;
            this.outermost = outermost;
            this.enclosingStart = ws == null ? 0 : ws.innermostStart;
            if (ws != null) ws.innermostStart = start;
        }

        /** Keeps t's array past this scope (the region's result); returns t. */
        public Tensor keep(Tensor t) {
            if (ws != null) {
                kept = Arrays.copyOf(kept, kept.length + 1);
                kept[kept.length - 1] = t.data;
            }
            return t;
        }

        @Override
        public void close() {
            if (ws == null) return;
            ArrayList<float[]> taken = ws.taken;
            int w = start;
            for (int i = start; i < taken.size(); i++) {
                float[] a = taken.get(i);
                if (!outermost && isKept(a)) taken.set(w++, a);
                else ws.giveBack(a);
            }
            taken.subList(w, taken.size()).clear();
            ws.innermostStart = enclosingStart;
            if (outermost) {
                CURRENT.remove();
                ws.owner.set(null);
            }
        }

        private boolean isKept(float[] a) {
            for (float[] k : kept) if (k == a) return true;
            return false;
        }
    }
}
