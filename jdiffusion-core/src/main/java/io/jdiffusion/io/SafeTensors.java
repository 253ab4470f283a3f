package io.jdiffusion.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.DType;
import io.jdiffusion.tensor.Weight;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A .safetensors file, memory-mapped (no copy, files of any size). Layout: an 8-byte little-endian
 * header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
 * then the data section that the offsets are relative to.
 *
 * <p>Nothing in the header is trusted before it is checked: the header must lie inside the file and be one
 * well-formed JSON object; every tensor needs a known dtype, a shape, and a byte range that lies inside the
 * data section, has exactly dtype size × element count bytes (computed without overflow) and overlaps no
 * other tensor. Only the file's real size is ever mapped or allocated, never a size the header claims.
 * A malformed file is refused with a one-line message naming the file (and the tensor, where there is one).
 *
 * <p>Tensors of a dtype the format defines but the engine does not compute with (I64 {@code position_ids}
 * buffers in SD 1.x checkpoints, F64, integers) are validated like the rest and listed by
 * {@link #unreadable()}; {@link #get} refuses them by name. A dtype the format does not define is malformed.
 */
public final class SafeTensors implements TensorFile {
    /** A header larger than this is not a model header but a corrupt length (the format caps it at 100 MB). */
    private static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** Element sizes of every dtype the safetensors format defines (whole-byte types). */
    private static final Map<String, Integer> FORMAT_DTYPE_BYTES = Map.ofEntries(
            Map.entry("BOOL", 1), Map.entry("U8", 1), Map.entry("I8", 1),
            Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1), Map.entry("F8_E8M0", 1),
            Map.entry("I16", 2), Map.entry("U16", 2), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("I32", 4), Map.entry("U32", 4), Map.entry("F32", 4),
            Map.entry("I64", 8), Map.entry("U64", 8), Map.entry("F64", 8));

    private final Path path;
    private final Map<String, Weight> tensors;
    private final Map<String, String> unreadable;
    private final Map<String, String> metadata;

    private SafeTensors(Path path, Map<String, Weight> tensors, Map<String, String> unreadable, Map<String, String> metadata) {
        this.path = path;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.unreadable = Collections.unmodifiableMap(unreadable);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** Maps the file; it is unmapped once neither this object nor any of its weights is reachable. */
    public static SafeTensors open(Path path) {
        return open(path, Arena.ofAuto());
    }

    /** Maps the file in the given arena; closing the arena unmaps it. */
    public static SafeTensors open(Path path, Arena arena) {
        if (Files.isDirectory(path)) throw new JDiffusionException(path + ": is a directory, not a .safetensors file");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment file = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return parse(path, file, size);
        } catch (NoSuchFileException e) {
            throw new JDiffusionException(path + ": no such file");
        } catch (IOException e) {
            throw new JDiffusionException(path + ": cannot read (" + oneLine(e.getMessage()) + ")");
        }
    }

    private record Range(String name, long begin, long end) {
    }

    private static SafeTensors parse(Path path, MemorySegment file, long size) {
        if (size < 8) throw bad(path, "file is " + size + " bytes, too short for a safetensors header");
        long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        // Unsigned comparison: a length of 2^63 or more reads as negative and must not slip through.
        if (Long.compareUnsigned(headerLen, size - 8) > 0) {
            throw bad(path, "header length " + Long.toUnsignedString(headerLen) + " lies past the end of the file ("
                    + size + " bytes); not a safetensors file, or a damaged one");
        }
        if (headerLen > MAX_HEADER_BYTES) throw bad(path, "header length " + headerLen + " is implausibly large (over 100 MB)");
        if (headerLen < 2) throw bad(path, "header length " + headerLen + " is too short for a JSON object");
        JsonNode header = readHeader(path, file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE));

        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Weight> tensors = new LinkedHashMap<>();
        Map<String, String> unreadable = new LinkedHashMap<>();
        List<Range> ranges = new ArrayList<>();
        List<Range> pastEnd = new ArrayList<>();
        for (var entry : header.properties()) {
            String name = entry.getKey();
            JsonNode info = entry.getValue();
            if (name.equals("__metadata__")) {
                readMetadata(path, info, metadata);
                continue;
            }
            String where = "tensor '" + name + "'";
            if (!info.isObject()) throw bad(path, where + " has no description object");

            JsonNode dt = info.get("dtype");
            if (dt == null || !dt.isTextual()) throw bad(path, where + " has no dtype");
            String dtypeName = dt.asText();
            Integer elementBytes = FORMAT_DTYPE_BYTES.get(dtypeName);
            if (elementBytes == null) throw bad(path, where + " has unknown dtype '" + oneLine(dtypeName) + "'");

            long[] shape = readShape(path, where, info.get("shape"));
            long[] offsets = readOffsets(path, where, info.get("data_offsets"));
            long begin = offsets[0], end = offsets[1];
            long expectedBytes;
            try {
                expectedBytes = Math.multiplyExact(elementCount(shape), (long) elementBytes);
            } catch (ArithmeticException e) {
                throw bad(path, where + " has an impossibly large shape " + info.get("shape"));
            }
            if (end - begin != expectedBytes) {
                throw bad(path, where + " occupies " + (end - begin) + " bytes but " + dtypeName + " " + info.get("shape")
                        + " needs " + expectedBytes);
            }
            if (end > dataLen) {
                pastEnd.add(new Range(name, begin, end));
                continue;
            }
            ranges.add(new Range(name, begin, end));
            DType dtype = DType.fromSafetensors(dtypeName);
            if (dtype == null) {
                unreadable.put(name, dtypeName);
            } else {
                tensors.put(name, new Weight(name, dtype, shape, file.asSlice(dataStart + begin, end - begin)));
            }
        }
        if (pastEnd.size() == 1) {
            Range r = pastEnd.getFirst();
            throw bad(path, "tensor '" + r.name + "' lies past the end of the file (data_offsets [" + r.begin + ", " + r.end
                    + "] but the data section has " + dataLen + " bytes)");
        }
        if (pastEnd.size() > 1) {
            long needed = pastEnd.stream().mapToLong(Range::end).max().orElseThrow();
            throw bad(path, "file is truncated: its header describes " + needed + " bytes of tensor data but only " + dataLen
                    + " are present (" + pastEnd.size() + " tensors lie past the end, the first '" + pastEnd.getFirst().name + "')");
        }
        ranges.sort(Comparator.comparingLong(Range::begin).thenComparingLong(Range::end));
        for (int i = 1; i < ranges.size(); i++) {
            Range a = ranges.get(i - 1), b = ranges.get(i);
            if (b.begin < a.end) throw bad(path, "tensors '" + a.name + "' and '" + b.name + "' overlap in the data section");
        }
        return new SafeTensors(path, tensors, unreadable, metadata);
    }

    private static JsonNode readHeader(Path path, byte[] bytes) {
        if (bytes[0] != '{') throw bad(path, "header is not a JSON object (it must start with '{')");
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw bad(path, "header is not valid UTF-8");
        }
        JsonNode header;
        try {
            header = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw bad(path, "header is not valid JSON (" + oneLine(e.getOriginalMessage()) + ")");
        }
        if (header == null || !header.isObject()) throw bad(path, "header is not a JSON object");
        return header;
    }

    private static void readMetadata(Path path, JsonNode info, Map<String, String> out) {
        if (!info.isObject()) throw bad(path, "__metadata__ is not a JSON object");
        for (var m : info.properties()) {
            if (!m.getValue().isTextual()) throw bad(path, "__metadata__ value '" + m.getKey() + "' is not a string");
            out.put(m.getKey(), m.getValue().asText());
        }
    }

    private static long[] readShape(Path path, String where, JsonNode sh) {
        if (sh == null || !sh.isArray()) throw bad(path, where + " has no shape");
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) throw bad(path, where + " has a bad shape " + sh);
            shape[i] = d.asLong();
        }
        return shape;
    }

    private static long[] readOffsets(Path path, String where, JsonNode off) {
        if (off == null || !off.isArray() || off.size() != 2) throw bad(path, where + " has no valid data_offsets");
        for (JsonNode o : off) {
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.asLong() < 0) {
                throw bad(path, where + " has invalid data_offsets " + off);
            }
        }
        long begin = off.get(0).asLong(), end = off.get(1).asLong();
        if (end < begin) throw bad(path, where + " has invalid data_offsets " + off + " (end before begin)");
        return new long[]{begin, end};
    }

    /** The product of the dimensions; ArithmeticException when it does not fit in a long. */
    private static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    private static JDiffusionException bad(Path path, String problem) {
        return new JDiffusionException(path + ": " + problem);
    }

    private static String oneLine(String s) {
        if (s == null) return "";
        String line = s.lines().findFirst().orElse("").strip();
        return line.length() > 200 ? line.substring(0, 200) + "..." : line;
    }

    @Override
    public Path path() {
        return path;
    }

    /** The tensors the engine can read (F32, F16, BF16), in header order. */
    @Override
    public Map<String, Weight> tensors() {
        return tensors;
    }

    /** Well-formed tensors of a dtype the engine does not compute with: name → safetensors dtype. */
    @Override
    public Map<String, String> unreadable() {
        return unreadable;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * True when the file starts like a safetensors file: a plausible little-endian header length followed by
     * '{'. Reads 9 bytes; used to tell formats apart whatever the file's extension.
     */
    public static boolean looksLikeSafetensors(Path p) {
        if (!Files.isRegularFile(p)) return false;
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && ch.read(b) > 0) {
                // read until 9 bytes or end of file
            }
            if (b.position() < 9) return false;
            long headerLen = b.getLong(0);
            return headerLen >= 2 && headerLen <= ch.size() - 8 && b.get(8) == '{';
        } catch (IOException e) {
            return false;
        }
    }
}
