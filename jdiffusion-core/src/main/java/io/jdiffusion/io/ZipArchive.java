package io.jdiffusion.io;

import io.jdiffusion.JDiffusionException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The entries of a zip archive that is already memory-mapped, as torch.save writes them (ZIP64 included,
 * for checkpoints over 4 GB). An entry stored without compression is returned as a slice of the mapping,
 * so a multi-gigabyte checkpoint is never copied; a deflated entry is inflated into memory.
 *
 * <p>java.util.zip cannot do this: it does not tell where an entry's bytes start in the file. The
 * central directory gives each entry's local header; the bytes follow that header's name and extra field
 * (torch pads the extra field so that every tensor starts 64-byte aligned).
 */
final class ZipArchive {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final int LOCAL_HEADER = 0x04034b50;
    private static final int CENTRAL_HEADER = 0x02014b50;
    private static final int END_OF_DIRECTORY = 0x06054b50;
    private static final int ZIP64_END_OF_DIRECTORY = 0x06064b50;
    private static final int ZIP64_LOCATOR = 0x07064b50;
    private static final int STORED = 0, DEFLATED = 8;

    /** One file of the archive, as the central directory describes it. */
    record Entry(String name, int method, int flags, long crc, long compressedSize, long size, long localHeaderOffset) {
    }

    private final Path path;
    private final MemorySegment file;
    private final Map<String, Entry> entries;

    private ZipArchive(Path path, MemorySegment file, Map<String, Entry> entries) {
        this.path = path;
        this.file = file;
        this.entries = Collections.unmodifiableMap(entries);
    }

    /** True when the mapped file starts with a zip local header (what torch.save writes since PyTorch 1.6). */
    static boolean isZip(MemorySegment file) {
        return file.byteSize() >= 4 && file.get(U32, 0) == LOCAL_HEADER;
    }

    /** Reads the central directory of the mapped file; nothing of the entries is read yet. */
    static ZipArchive read(Path path, MemorySegment file) {
        long size = file.byteSize();
        long eocd = findEndOfDirectory(path, file);
        long count = u16(file, eocd + 10);
        long dirSize = u32(file, eocd + 12);
        long dirOffset = u32(file, eocd + 16);
        if (count == 0xffff || dirSize == 0xffffffffL || dirOffset == 0xffffffffL) {
            // ZIP64: the real numbers are in the ZIP64 end record, found through the locator just before
            long locator = eocd - 20;
            if (locator < 0 || file.get(U32, locator) != ZIP64_LOCATOR) throw bad(path, "ZIP64 locator missing");
            long end64 = file.get(U64, locator + 8);
            if (end64 < 0 || end64 > size - 56 || file.get(U32, end64) != ZIP64_END_OF_DIRECTORY) {
                throw bad(path, "ZIP64 end of central directory missing");
            }
            count = file.get(U64, end64 + 32);
            dirSize = file.get(U64, end64 + 40);
            dirOffset = file.get(U64, end64 + 48);
        }
        if (dirOffset < 0 || dirSize < 0 || dirOffset > size || dirSize > size - dirOffset) {
            throw bad(path, "central directory lies outside the file");
        }
        // every central header takes at least 46 bytes: a count beyond that is a lie, not a reason to loop
        if (count < 0 || count > dirSize / 46) throw bad(path, "central directory claims " + count + " entries in " + dirSize + " bytes");

        Map<String, Entry> entries = new LinkedHashMap<>();
        long p = dirOffset, dirEnd = dirOffset + dirSize;
        for (long i = 0; i < count; i++) {
            if (p + 46 > dirEnd || file.get(U32, p) != CENTRAL_HEADER) throw bad(path, "central directory entry " + i + " is damaged");
            int flags = u16(file, p + 8);
            int method = u16(file, p + 10);
            long crc = u32(file, p + 16);
            long compressed = u32(file, p + 20);
            long uncompressed = u32(file, p + 24);
            int nameLen = u16(file, p + 28), extraLen = u16(file, p + 30), commentLen = u16(file, p + 32);
            long localOffset = u32(file, p + 42);
            long next = p + 46 + nameLen + extraLen + commentLen;
            if (next > dirEnd) throw bad(path, "central directory entry " + i + " runs past the directory");
            String name = new String(file.asSlice(p + 46, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);

            // ZIP64 extra field: the 64-bit values, present only for those the header set to 0xffffffff, in this order
            long extra = p + 46 + nameLen, extraEnd = extra + extraLen;
            while (extra + 4 <= extraEnd) {
                int id = u16(file, extra), len = u16(file, extra + 2);
                long q = extra + 4, qEnd = Math.min(q + len, extraEnd);
                if (id == 0x0001) {
                    if (uncompressed == 0xffffffffL && q + 8 <= qEnd) { uncompressed = file.get(U64, q); q += 8; }
                    if (compressed == 0xffffffffL && q + 8 <= qEnd) { compressed = file.get(U64, q); q += 8; }
                    if (localOffset == 0xffffffffL && q + 8 <= qEnd) { localOffset = file.get(U64, q); }
                }
                extra += 4 + len;
            }
            if ((flags & 1) != 0) throw bad(path, "entry '" + name + "' is encrypted");
            if (compressed < 0 || uncompressed < 0 || localOffset < 0 || localOffset > size) {
                throw bad(path, "entry '" + name + "' has impossible sizes or offset");
            }
            if (entries.put(name, new Entry(name, method, flags, crc, compressed, uncompressed, localOffset)) != null) {
                throw bad(path, "entry '" + name + "' appears twice");
            }
            p = next;
        }
        return new ZipArchive(path, file, entries);
    }

    private static long findEndOfDirectory(Path path, MemorySegment file) {
        long size = file.byteSize();
        // the record is 22 bytes plus a comment of at most 65535 bytes, at the very end
        long lowest = Math.max(0, size - 22 - 0xffff);
        for (long p = size - 22; p >= lowest; p--) {
            if (file.get(U32, p) == END_OF_DIRECTORY && p + 22 + u16(file, p + 20) == size) return p;
        }
        throw bad(path, "not a complete zip archive (no end of central directory; the file may be truncated)");
    }

    Map<String, Entry> entries() {
        return entries;
    }

    /**
     * The entry's bytes: a slice of the mapped file when it is stored, an inflated copy when it is deflated.
     * The checksum is verified for inflated entries and when {@code verify} is set (it reads every byte).
     */
    MemorySegment data(Entry e, boolean verify) {
        long local = e.localHeaderOffset();
        if (local > file.byteSize() - 30 || file.get(U32, local) != LOCAL_HEADER) {
            throw bad(path, "entry '" + e.name() + "' has no local header where the directory says");
        }
        long start = local + 30 + u16(file, local + 26) + u16(file, local + 28);
        if (start > file.byteSize() || e.compressedSize() > file.byteSize() - start) {
            throw bad(path, "entry '" + e.name() + "' runs past the end of the file (truncated download?)");
        }
        MemorySegment raw = file.asSlice(start, e.compressedSize());
        MemorySegment out = switch (e.method()) {
            case STORED -> {
                if (e.size() != e.compressedSize()) throw bad(path, "stored entry '" + e.name() + "' has two different sizes");
                yield raw;
            }
            case DEFLATED -> inflate(e, raw);
            default -> throw bad(path, "entry '" + e.name() + "' uses compression method " + e.method() + " (only stored and deflated are read)");
        };
        if (verify || e.method() == DEFLATED) checkCrc(e, out);
        return out;
    }

    private MemorySegment inflate(Entry e, MemorySegment raw) {
        // the declared size is what is allocated; inflating must produce exactly that much
        MemorySegment out = Arena.ofAuto().allocate(Math.max(1, e.size())).asSlice(0, e.size());
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(raw.asByteBuffer());
            long written = 0;
            while (written < e.size()) {
                int n = inflater.inflate(out.asSlice(written).asByteBuffer());
                if (n == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) break;
                written += n;
            }
            boolean longer = !inflater.finished() && inflater.inflate(new byte[1]) > 0;
            if (written != e.size() || longer) {
                throw bad(path, "entry '" + e.name() + "' does not inflate to the " + e.size() + " bytes its directory says");
            }
            return out;
        } catch (DataFormatException ex) {
            throw bad(path, "entry '" + e.name() + "' is not valid deflate data (" + ex.getMessage() + ")");
        } finally {
            inflater.end();
        }
    }

    private void checkCrc(Entry e, MemorySegment bytes) {
        CRC32 crc = new CRC32();
        crc.update(bytes.asByteBuffer());
        if (crc.getValue() != e.crc()) throw bad(path, "entry '" + e.name() + "' fails its checksum (damaged file)");
    }

    private static int u16(MemorySegment f, long at) {
        return f.get(U16, at) & 0xffff;
    }

    private static long u32(MemorySegment f, long at) {
        return f.get(U32, at) & 0xffffffffL;
    }

    private static JDiffusionException bad(Path path, String problem) {
        return new JDiffusionException(path + ": " + problem);
    }
}
