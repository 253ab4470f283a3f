package io.jdiffusion.io;

import io.jdiffusion.JDiffusionException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A reader of Python pickles (protocols 0 to 5) that builds plain data and never runs anything.
 *
 * <p>A pickle is a little program: besides pushing values it may name any importable function
 * ({@code GLOBAL}, {@code STACK_GLOBAL}) and call it ({@code REDUCE}, {@code NEWOBJ}, {@code BUILD}), which is
 * how a hostile .ckpt runs {@code os.system}. Here a name is looked up in the caller's {@link Globals}
 * allow-list, and a name that is not on it stops the load right there, with a message naming it. What the
 * list returns is Java: a {@link Callable} that builds a value from its arguments (a tensor reference, an
 * empty OrderedDict), or an inert marker (a storage type). Nothing from the file is ever executed.
 *
 * <p>Python values become: str → String, int → Long (BigInteger when it does not fit), float → Double,
 * bool → Boolean, None → null, bytes/bytearray → byte[], list → ArrayList, tuple → {@link Tuple},
 * dict → LinkedHashMap (insertion order kept), set/frozenset → LinkedHashSet.
 *
 * <p>The input is only ever read within its bounds; every length in the file is checked against what is
 * left before it is used, so a damaged or hostile pickle fails with a message, never with an exception
 * from deep inside or an allocation the file did not pay for.
 */
public final class Pickle {

    /** A Python tuple: immutable, compared by value (so it can be a dict key). */
    public record Tuple(List<Object> items) {
        public Tuple {
            items = Collections.unmodifiableList(new ArrayList<>(items));
        }

        public static Tuple of(Object... items) {
            return new Tuple(Arrays.asList(items));
        }

        public int size() {
            return items.size();
        }

        public Object get(int i) {
            return items.get(i);
        }
    }

    /** Something a pickle may call through REDUCE / NEWOBJ / OBJ: Java code that builds a value from plain data. */
    @FunctionalInterface
    public interface Callable {
        Object call(List<Object> args);
    }

    /** An object whose state a pickle may set with BUILD (Python's {@code __setstate__}). */
    public interface Buildable {
        void setState(Object state);
    }

    /** The allow-list: what a global name stands for, or null for every name the load must refuse. */
    @FunctionalInterface
    public interface Globals {
        Object find(String module, String name);
    }

    /** What a persistent id stands for (torch storages); null when the pickle may not have any. */
    @FunctionalInterface
    public interface PersistentLoader {
        Object load(Object persistentId);
    }

    /**
     * An object of an allowed class, kept as data: the class name, the constructor arguments and the state
     * BUILD gave it. Nothing of the class runs; a loader that cares reads {@link #state()}.
     */
    public static final class Instance implements Buildable {
        private final String className;
        private final List<Object> args;
        private Object state;

        public Instance(String className, List<Object> args) {
            this.className = className;
            this.args = Collections.unmodifiableList(new ArrayList<>(args));
        }

        public String className() {
            return className;
        }

        public List<Object> args() {
            return args;
        }

        public Object state() {
            return state;
        }

        @Override
        public void setState(Object state) {
            this.state = state;
        }

        @Override
        public String toString() {
            return className + "(...)";
        }
    }

    /** A class of the allow-list that is instantiated as an inert {@link Instance}. */
    public record InertClass(String name) implements Callable {
        @Override
        public Object call(List<Object> args) {
            return new Instance(name, args);
        }
    }

    /** Upper bound on the digits of a pickled int: real files hold small numbers, not megabyte integers. */
    private static final int MAX_INT_BYTES = 1024;
    /** How deep a dict key may nest tuples; deeper is no weights file, and hashing it could recurse without end. */
    private static final int MAX_KEY_DEPTH = 64;

    private final MemorySegment data;
    private final long end;
    private final String source;
    private final Globals globals;
    private final PersistentLoader persistent;
    private long pos;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private Pickle(MemorySegment data, long start, long end, String source, Globals globals, PersistentLoader persistent) {
        this.data = data;
        this.pos = start;
        this.end = end;
        this.source = source;
        this.globals = globals;
        this.persistent = persistent;
    }

    /** The value of the one pickle that fills {@code data}, read with this allow-list. */
    public static Object load(byte[] data, String source, Globals globals, PersistentLoader persistent) {
        Result r = load(MemorySegment.ofArray(data), 0, data.length, source, globals, persistent);
        return r.value();
    }

    /** A value and the position just after its STOP opcode (files hold several pickles in a row). */
    public record Result(Object value, long end) {
    }

    /**
     * Reads one pickle starting at {@code start}, not reading at or past {@code end}.
     *
     * @param source names the file (and the entry in it) in messages
     */
    public static Result load(MemorySegment data, long start, long end, String source, Globals globals,
                              PersistentLoader persistent) {
        Pickle p = new Pickle(data, start, end, source, globals, persistent);
        Object value = p.run();
        return new Result(value, p.pos);
    }

    // ---------------------------------------------------------------- the machine

    private Object run() {
        while (true) {
            if (pos >= end) throw bad("pickle ends without a STOP opcode");
            long at = pos;
            int op = u8();
            switch (op) {
                case 0x80 -> { // PROTO
                    int proto = u8();
                    if (proto > 5) throw bad("pickle protocol " + proto + " is newer than 5");
                }
                case 0x95 -> skip(8); // FRAME: a buffering hint, the opcodes follow as usual
                case '.' -> { // STOP
                    if (stack.size() != 1 || !marks.isEmpty()) throw bad("pickle stops with " + stack.size() + " values on its stack");
                    return stack.getFirst();
                }

                // ------------------------------------------------ marks and stack
                case '(' -> { // MARK
                    marks.add(stack.size());
                }
                case '0' -> { // POP: a MARK pushed just before is popped instead of a value
                    if (!marks.isEmpty() && marks.getLast() == stack.size()) marks.removeLast();
                    else pop();
                }
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP

                // ------------------------------------------------ constants and numbers
                case 'N' -> push(null); // NONE
                case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                case 'I' -> push(parseIntLine(line())); // INT
                case 'L' -> push(parseLongLine(line())); // LONG
                case 'J' -> push((long) le32()); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) u16()); // BININT2
                case 0x8a -> push(littleEndianInt(u8())); // LONG1
                case 0x8b -> push(littleEndianInt(count(le32(), "LONG4"))); // LONG4
                case 'F' -> push(parseFloatLine(line())); // FLOAT
                case 'G' -> push(Double.longBitsToDouble(be64())); // BINFLOAT

                // ------------------------------------------------ strings and bytes
                case 'S' -> push(parseQuotedString(line())); // STRING (protocol 0 str: Python 2 text)
                case 'T' -> push(utf8(bytes(count(le32(), "BINSTRING")))); // BINSTRING
                case 'U' -> push(utf8(bytes(u8()))); // SHORT_BINSTRING
                case 'V' -> push(rawUnicodeEscape(line())); // UNICODE
                case 'X' -> push(utf8(bytes(count(le32u(), "BINUNICODE")))); // BINUNICODE
                case 0x8c -> push(utf8(bytes(u8()))); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(bytes(count(le64(), "BINUNICODE8")))); // BINUNICODE8
                case 'B' -> push(bytes(count(le32u(), "BINBYTES"))); // BINBYTES
                case 'C' -> push(bytes(u8())); // SHORT_BINBYTES
                case 0x8e -> push(bytes(count(le64(), "BINBYTES8"))); // BINBYTES8
                case 0x96 -> push(bytes(count(le64(), "BYTEARRAY8"))); // BYTEARRAY8
                case 0x97 -> throw bad("pickle uses an out-of-band buffer (NEXT_BUFFER), which a file cannot supply");
                case 0x98 -> { // READONLY_BUFFER: nothing to do for plain bytes
                }

                // ------------------------------------------------ containers
                case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                case 'l' -> push(new ArrayList<>(popMark())); // LIST
                case ')' -> push(new Tuple(List.of())); // EMPTY_TUPLE
                case 't' -> push(new Tuple(popMark())); // TUPLE
                case 0x85 -> push(Tuple.of(pop())); // TUPLE1
                case 0x86 -> { // TUPLE2
                    Object b = pop(), a = pop();
                    push(Tuple.of(a, b));
                }
                case 0x87 -> { // TUPLE3
                    Object c = pop(), b = pop(), a = pop();
                    push(Tuple.of(a, b, c));
                }
                case '}' -> push(new LinkedHashMap<>()); // EMPTY_DICT
                case 'd' -> { // DICT
                    List<Object> items = popMark();
                    Map<Object, Object> dict = new LinkedHashMap<>();
                    putPairs(dict, items);
                    push(dict);
                }
                case 0x8f -> push(new LinkedHashSet<>()); // EMPTY_SET
                case 0x91 -> { // FROZENSET
                    List<Object> items = popMark();
                    for (Object o : items) checkHashable(o);
                    push(Collections.unmodifiableSet(new LinkedHashSet<>(items)));
                }
                case 'a' -> { // APPEND
                    Object v = pop();
                    asList(peek(), "APPEND").add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    asList(peek(), "APPENDS").addAll(items);
                }
                case 's' -> { // SETITEM
                    Object v = pop(), k = pop();
                    List<Object> pair = new ArrayList<>(2);
                    pair.add(k);
                    pair.add(v);
                    putPairs(asDict(peek(), "SETITEM"), pair);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    putPairs(asDict(peek(), "SETITEMS"), items);
                }
                case 0x90 -> { // ADDITEMS
                    List<Object> items = popMark();
                    Object target = peek();
                    if (!(target instanceof Set<?>)) throw bad("ADDITEMS on " + describe(target) + ", not a set");
                    for (Object o : items) checkHashable(o);
                    @SuppressWarnings("unchecked") Set<Object> set = (Set<Object>) target;
                    try {
                        set.addAll(items);
                    } catch (UnsupportedOperationException e) {
                        throw bad("ADDITEMS on a frozenset");
                    }
                }

                // ------------------------------------------------ memo
                case 'p' -> memo.put(parseMemoIndex(line()), peek()); // PUT
                case 'q' -> memo.put((long) u8(), peek()); // BINPUT
                case 'r' -> memo.put(le32u(), peek()); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'g' -> push(memoGet(parseMemoIndex(line()))); // GET
                case 'h' -> push(memoGet(u8())); // BINGET
                case 'j' -> push(memoGet(le32u())); // LONG_BINGET

                // ------------------------------------------------ names, calls, objects
                case 'c' -> { // GLOBAL
                    String module = line(), name = line();
                    push(global(module, name));
                }
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw bad("STACK_GLOBAL with a non-string name");
                    }
                    push(global(m, n));
                }
                case 'R' -> { // REDUCE
                    Object args = pop(), callable = pop();
                    push(call(callable, args, "REDUCE"));
                }
                case 0x81 -> { // NEWOBJ: cls.__new__(cls, *args)
                    Object args = pop(), cls = pop();
                    push(call(cls, args, "NEWOBJ"));
                }
                case 0x92 -> { // NEWOBJ_EX
                    Object kwargs = pop(), args = pop(), cls = pop();
                    if (!(kwargs instanceof Map<?, ?> kw) || !kw.isEmpty()) throw bad("NEWOBJ_EX with keyword arguments");
                    push(call(cls, args, "NEWOBJ_EX"));
                }
                case 'o' -> { // OBJ: MARK cls args... → cls(*args)
                    List<Object> items = popMark();
                    if (items.isEmpty()) throw bad("OBJ without a class");
                    push(call(items.getFirst(), new Tuple(items.subList(1, items.size())), "OBJ"));
                }
                case 'i' -> { // INST: MARK args... then module and name on the next lines
                    String module = line(), name = line();
                    List<Object> items = popMark();
                    push(call(global(module, name), new Tuple(items), "INST"));
                }
                case 'b' -> { // BUILD
                    Object state = pop();
                    build(peek(), state);
                }
                case 'P' -> push(persistentLoad(line())); // PERSID
                case 'Q' -> push(persistentLoad(pop())); // BINPERSID
                case 0x82, 0x83, 0x84 -> throw bad("pickle uses the copyreg extension registry (EXT opcode), which is not allowed");
                default -> throw bad(String.format("unknown pickle opcode 0x%02x at byte %d", op, at));
            }
        }
    }

    // ---------------------------------------------------------------- globals and calls

    /** Python 2 module names that pickles of protocol 0–2 may use for the builtins (fix_imports, as torch.load does). */
    private static final Map<String, String> PY2_MODULES = Map.of("__builtin__", "builtins", "copy_reg", "copyreg");

    private Object global(String module, String name) {
        String m = PY2_MODULES.getOrDefault(module, module);
        Object found = globals.find(m, name);
        if (found == null) {
            throw new JDiffusionException(source + ": refused: the pickle asks for the Python global '" + printable(m) + "."
                    + printable(name) + "', which a weights file has no use for (only tensors, storages and plain containers "
                    + "load; nothing was run)");
        }
        return found;
    }

    private Object call(Object callable, Object args, String opcode) {
        if (!(callable instanceof Callable c)) throw bad(opcode + " calls " + describe(callable) + ", which is not callable");
        if (!(args instanceof Tuple t)) throw bad(opcode + " with arguments that are not a tuple");
        try {
            return c.call(t.items());
        } catch (JDiffusionException e) {
            throw e;
        } catch (RuntimeException e) {
            throw bad(opcode + " failed: " + e.getMessage());
        }
    }

    private void build(Object target, Object state) {
        if (target instanceof Buildable b) {
            b.setState(state);
        } else if (target instanceof Map<?, ?>) {
            // A dict subclass's attributes (OrderedDict state_dicts carry _metadata): not part of the mapping.
            if (state != null && !(state instanceof Map<?, ?>) && !(state instanceof Tuple)) {
                throw bad("BUILD on a dict with state " + describe(state));
            }
        } else {
            throw bad("BUILD on " + describe(target) + ", which has no state to set");
        }
    }

    private Object persistentLoad(Object id) {
        if (persistent == null) throw bad("the pickle refers to external data (persistent id), which this file cannot have");
        Object v = persistent.load(id);
        if (v == null) throw bad("unknown persistent id " + describe(id));
        return v;
    }

    // ---------------------------------------------------------------- stack helpers

    private void push(Object o) {
        stack.add(o);
    }

    private Object pop() {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() <= floor) throw bad("pickle pops from an empty stack");
        return stack.removeLast();
    }

    private Object peek() {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() <= floor) throw bad("pickle reads from an empty stack");
        return stack.getLast();
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw bad("pickle closes a MARK it never opened");
        int at = marks.removeLast();
        List<Object> items = new ArrayList<>(stack.subList(at, stack.size()));
        stack.subList(at, stack.size()).clear();
        return items;
    }

    private Object memoGet(long index) {
        if (!memo.containsKey(index)) throw bad("pickle reads memo entry " + index + ", which was never stored");
        return memo.get(index);
    }

    @SuppressWarnings("unchecked")
    private List<Object> asList(Object o, String opcode) {
        if (o instanceof ArrayList<?> l) return (List<Object>) l;
        throw bad(opcode + " on " + describe(o) + ", not a list");
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> asDict(Object o, String opcode) {
        if (o instanceof LinkedHashMap<?, ?> m) return (Map<Object, Object>) m;
        throw bad(opcode + " on " + describe(o) + ", not a dict");
    }

    private void putPairs(Map<Object, Object> dict, List<Object> items) {
        if (items.size() % 2 != 0) throw bad("dict items come in an odd number");
        for (int i = 0; i < items.size(); i += 2) {
            checkHashable(items.get(i));
            dict.put(items.get(i), items.get(i + 1));
        }
    }

    /** As Python: only immutable values can be keys (which also keeps Java's hashing from recursing forever). */
    private void checkHashable(Object key) {
        if (!hashable(key, 0)) throw bad("a dict key or set member is " + describe(key) + ", which Python cannot hash");
    }

    private static boolean hashable(Object o, int depth) {
        if (depth > MAX_KEY_DEPTH) return false;
        if (o == null || o instanceof String || o instanceof Long || o instanceof BigInteger || o instanceof Double
                || o instanceof Boolean) {
            return true;
        }
        if (o instanceof Tuple t) {
            for (Object item : t.items()) if (!hashable(item, depth + 1)) return false;
            return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- reading the input

    private int u8() {
        need(1);
        return data.get(ValueLayout.JAVA_BYTE, pos++) & 0xff;
    }

    private int u16() {
        need(2);
        int v = data.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos) & 0xffff;
        pos += 2;
        return v;
    }

    private int le32() {
        need(4);
        int v = data.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos);
        pos += 4;
        return v;
    }

    private long le32u() {
        return le32() & 0xffffffffL;
    }

    private long le64() {
        need(8);
        long v = data.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos);
        pos += 8;
        return v;
    }

    private long be64() {
        need(8);
        long v = data.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), pos);
        pos += 8;
        return v;
    }

    private void skip(long n) {
        need(n);
        pos += n;
    }

    private void need(long n) {
        if (n < 0 || n > end - pos) throw bad("pickle is cut short (needs " + n + " more bytes at byte " + pos + ")");
    }

    /** A length from the file, checked to fit in what is left (and in a Java array). */
    private int count(long n, String opcode) {
        if (n < 0 || n > end - pos || n > Integer.MAX_VALUE - 8) {
            throw bad(opcode + " of " + Long.toUnsignedString(n) + " bytes runs past the end of the pickle");
        }
        return (int) n;
    }

    private byte[] bytes(int n) {
        need(n);
        byte[] out = data.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
        pos += n;
        return out;
    }

    /** A protocol-0 argument: the bytes up to the next newline. */
    private String line() {
        long start = pos;
        while (true) {
            if (pos >= end) throw bad("pickle is cut short inside a text argument");
            if (data.get(ValueLayout.JAVA_BYTE, pos++) == '\n') break;
        }
        byte[] b = data.asSlice(start, pos - 1 - start).toArray(ValueLayout.JAVA_BYTE);
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private Object littleEndianInt(int n) {
        if (n > MAX_INT_BYTES) throw bad("integer of " + n + " bytes is implausibly large");
        if (n == 0) return 0L;
        byte[] b = bytes(n);
        byte[] bigEndian = new byte[n];
        for (int i = 0; i < n; i++) bigEndian[i] = b[n - 1 - i];
        return narrow(new BigInteger(bigEndian));
    }

    private static Object narrow(BigInteger v) {
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private Object parseIntLine(String s) {
        // protocol 0 writes True and False as INT 01 and 00
        if (s.equals("01")) return Boolean.TRUE;
        if (s.equals("00")) return Boolean.FALSE;
        return parseInteger(s);
    }

    private Object parseLongLine(String s) {
        return parseInteger(s.endsWith("L") ? s.substring(0, s.length() - 1) : s);
    }

    private Object parseInteger(String s) {
        if (s.length() > MAX_INT_BYTES * 3) throw bad("integer of " + s.length() + " digits is implausibly large");
        try {
            return narrow(new BigInteger(s.strip()));
        } catch (NumberFormatException e) {
            throw bad("bad integer '" + printable(s) + "'");
        }
    }

    private double parseFloatLine(String s) {
        try {
            return Double.parseDouble(s.strip());
        } catch (NumberFormatException e) {
            throw bad("bad float '" + printable(s) + "'");
        }
    }

    private long parseMemoIndex(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            throw bad("bad memo index '" + printable(s) + "'");
        }
    }

    /** STRING's argument: a Python 2 str literal, quoted, with backslash escapes. */
    private String parseQuotedString(String s) {
        if (s.length() < 2 || (s.charAt(0) != '\'' && s.charAt(0) != '"') || s.charAt(s.length() - 1) != s.charAt(0)) {
            throw bad("STRING argument is not quoted");
        }
        String body = s.substring(1, s.length() - 1);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c != '\\' || i + 1 >= body.length()) {
                out.write(c);
                continue;
            }
            char e = body.charAt(++i);
            switch (e) {
                case 'n' -> out.write('\n');
                case 't' -> out.write('\t');
                case 'r' -> out.write('\r');
                case '0', '1', '2', '3', '4', '5', '6', '7' -> {
                    int v = e - '0', k = 0;
                    while (k < 2 && i + 1 < body.length() && body.charAt(i + 1) >= '0' && body.charAt(i + 1) <= '7') {
                        v = v * 8 + body.charAt(++i) - '0';
                        k++;
                    }
                    out.write(v);
                }
                case 'x' -> {
                    if (i + 2 >= body.length()) throw bad("bad \\x escape in STRING");
                    out.write(hex(body.substring(i + 1, i + 3)));
                    i += 2;
                }
                default -> out.write(e); // \\ \' \" and anything else stands for itself
            }
        }
        return utf8(out.toByteArray());
    }

    /** UNICODE's argument: raw-unicode-escape (Latin-1 bytes with \\uXXXX and \\UXXXXXXXX escapes). */
    private String rawUnicodeEscape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length() && (s.charAt(i + 1) == 'u' || s.charAt(i + 1) == 'U')) {
                int digits = s.charAt(i + 1) == 'u' ? 4 : 8;
                if (i + 2 + digits > s.length()) throw bad("bad \\u escape in UNICODE");
                out.appendCodePoint(hex(s.substring(i + 2, i + 2 + digits)));
                i += 1 + digits;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private int hex(String digits) {
        try {
            int v = Integer.parseUnsignedInt(digits, 16);
            if (!Character.isValidCodePoint(v)) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw bad("bad escape '" + printable(digits) + "'");
        }
    }

    // ---------------------------------------------------------------- messages

    private JDiffusionException bad(String problem) {
        return new JDiffusionException(source + ": damaged or unsupported pickle: " + problem);
    }

    /** A short description of a value for messages (never its whole content). */
    static String describe(Object o) {
        return switch (o) {
            case null -> "None";
            case String s -> "the string '" + printable(s) + "'";
            case Long l -> "the int " + l;
            case Tuple t -> "a tuple of " + t.size();
            case List<?> l -> "a list of " + l.size();
            case Map<?, ?> m -> "a dict of " + m.size();
            case byte[] b -> b.length + " bytes";
            default -> o.toString().length() > 80 ? o.getClass().getSimpleName() : o.toString();
        };
    }

    /** Text from a file, made safe for a one-line message: control characters escaped, length capped. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 120; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) b.append(String.format("\\x%02x", (int) c));
            else b.append(c);
        }
        if (b.length() >= 120) b.append("...");
        return b.toString();
    }
}
