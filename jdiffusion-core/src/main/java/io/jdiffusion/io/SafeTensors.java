package io.jdiffusion.io;

import com.fasterxml.jackson.core.JsonProcessingException;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A .safetensors file, memory-mapped (no copy, files of any size). Layout: an 8-byte little-endian
 * header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
 * then the data section that the offsets are relative to. Everything in the header is checked before it
 * is trusted: a malformed file is refused with a message naming the file and the problem.
 */
public final class SafeTensors {
    /** A header larger than this is not a model header but a corrupt length (the format caps it at 100 MB). */
    private static final long MAX_HEADER_BYTES = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final Map<String, Weight> tensors;
    private final Map<String, String> metadata;

    private SafeTensors(Path path, Map<String, Weight> tensors, Map<String, String> metadata) {
        this.path = path;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps the file for the life of the JVM (model weights are used until exit). */
    public static SafeTensors open(Path path) {
        return open(path, Arena.global());
    }

    /** Maps the file in the given arena; closing the arena unmaps it. */
    public static SafeTensors open(Path path, Arena arena) {
        MemorySegment file;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            file = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return parse(path, file, size);
        } catch (NoSuchFileException e) {
            throw new JDiffusionException(path + ": no such file");
        } catch (IOException e) {
            throw new JDiffusionException(path + ": cannot read (" + e.getMessage() + ")");
        }
    }

    private static SafeTensors parse(Path path, MemorySegment file, long size) {
        if (size < 8) throw bad(path, "file is " + size + " bytes, too short for a safetensors header");
        long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 2 || headerLen > size - 8) {
            throw bad(path, "header length " + Long.toUnsignedString(headerLen) + " exceeds the file's " + size + " bytes");
        }
        if (headerLen > MAX_HEADER_BYTES) throw bad(path, "header length " + headerLen + " is implausibly large");
        byte[] headerBytes = file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw bad(path, "header is not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (header == null || !header.isObject()) throw bad(path, "header is not a JSON object");
        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;

        Map<String, String> metadata = new LinkedHashMap<>();
        record Range(String name, long begin, long end) {
        }
        List<Range> ranges = new ArrayList<>();
        Map<String, Weight> tensors = new LinkedHashMap<>();
        var fields = header.properties().iterator();
        while (fields.hasNext()) {
            var e = fields.next();
            String name = e.getKey();
            JsonNode info = e.getValue();
            if (name.equals("__metadata__")) {
                if (info.isObject()) info.properties().forEach(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            if (!info.isObject()) throw bad(path, "tensor '" + name + "' has no description object");
            JsonNode dt = info.get("dtype"), sh = info.get("shape"), off = info.get("data_offsets");
            if (dt == null || !dt.isTextual()) throw bad(path, "tensor '" + name + "' has no dtype");
            DType dtype = DType.fromSafetensors(dt.asText());
            if (dtype == null) throw bad(path, "tensor '" + name + "' has unsupported dtype " + dt.asText() + " (supported: F32, F16, BF16)");
            if (sh == null || !sh.isArray()) throw bad(path, "tensor '" + name + "' has no shape");
            long[] shape = new long[sh.size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = sh.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) throw bad(path, "tensor '" + name + "' has a bad shape " + sh);
                shape[i] = d.asLong();
                numel = Math.multiplyHigh(numel, shape[i]) != 0 ? -1 : numel * shape[i];
                if (numel < 0) throw bad(path, "tensor '" + name + "' shape " + sh + " is too large");
            }
            if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()) {
                throw bad(path, "tensor '" + name + "' has no valid data_offsets");
            }
            long begin = off.get(0).asLong(), end = off.get(1).asLong();
            if (off.get(0).isBigInteger() || off.get(1).isBigInteger() || begin < 0 || end < begin) {
                throw bad(path, "tensor '" + name + "' has invalid data_offsets " + off);
            }
            if (end > dataLen) {
                throw bad(path, "tensor '" + name + "' data_offsets " + off + " lie past the end of the data (" + dataLen
                        + " bytes" + (dataLen < 1 ? "" : "; the file may be truncated") + ")");
            }
            if (end - begin != numel * dtype.bytes) {
                throw bad(path, "tensor '" + name + "' occupies " + (end - begin) + " bytes but " + dtype + " " + sh
                        + " needs " + numel * dtype.bytes);
            }
            ranges.add(new Range(name, begin, end));
            tensors.put(name, new Weight(name, dtype, shape, file.asSlice(dataStart + begin, end - begin)));
        }
        ranges.sort(Comparator.comparingLong(Range::begin).thenComparingLong(Range::end));
        for (int i = 1; i < ranges.size(); i++) {
            Range a = ranges.get(i - 1), b = ranges.get(i);
            if (b.begin < a.end) throw bad(path, "tensors '" + a.name + "' and '" + b.name + "' overlap in the data section");
        }
        return new SafeTensors(path, tensors, metadata);
    }

    private static JDiffusionException bad(Path path, String problem) {
        return new JDiffusionException(path + ": " + problem);
    }

    public Path path() {
        return path;
    }

    /** Tensors in header order. */
    public Map<String, Weight> tensors() {
        return tensors;
    }

    public Weight get(String name) {
        Weight w = tensors.get(name);
        if (w == null) throw new JDiffusionException(path + ": missing tensor '" + name + "'");
        return w;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** True when the file starts like a safetensors file (used to tell formats apart). */
    public static boolean looksLikeSafetensors(Path p) {
        return p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p);
    }
}
