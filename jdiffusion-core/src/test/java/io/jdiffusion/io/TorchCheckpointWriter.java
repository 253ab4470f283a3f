package io.jdiffusion.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes small checkpoints in torch.save's formats for tests, with whatever views a test needs: a
 * transposed tensor, an offset into a shared storage, deflated entries, the pre-1.6 layout. Each tensor is
 * pickled the way torch does it: {@code _rebuild_tensor_v2(persistent storage id, offset, size, stride,
 * False, OrderedDict())}.
 */
public final class TorchCheckpointWriter {
    /** A storage: torch type name (HalfStorage, FloatStorage, LongStorage, ...), element size, raw bytes. */
    public record StorageData(String type, int elementBytes, byte[] bytes) {
        public static StorageData floats(float... values) {
            ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) b.putFloat(v);
            return new StorageData("FloatStorage", 4, b.array());
        }

        static StorageData longs(long... values) {
            ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (long v : values) b.putLong(v);
            return new StorageData("LongStorage", 8, b.array());
        }
    }

    /** A tensor: a view of the storage with this key. */
    record View(String storageKey, long offset, long[] size, long[] stride) {
    }

    final Map<String, StorageData> storages = new LinkedHashMap<>();
    final Map<String, View> tensors = new LinkedHashMap<>();
    /** Extra raw pickle opcodes inserted as one more dict entry ('extra': ...), for hostile or unusual content. */
    byte[] extraEntry;
    boolean nestUnderStateDict = true;

    /** Writes these weights as torch.save writes a flat state dict (a zip archive, as diffusers' .bin files are). */
    public static void writeStateDict(Path file, Map<String, io.jdiffusion.tensor.Weight> weights) throws IOException {
        TorchCheckpointWriter w = new TorchCheckpointWriter();
        w.nestUnderStateDict = false;
        int key = 0;
        for (var e : weights.entrySet()) {
            io.jdiffusion.tensor.Weight t = e.getValue();
            String type = switch (t.dtype()) {
                case F16 -> "HalfStorage";
                case F32 -> "FloatStorage";
                case BF16 -> "BFloat16Storage";
            };
            String k = Integer.toString(key++);
            w.storage(k, new StorageData(type, t.dtype().bytes, t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
            long[] shape = t.shape(), stride = new long[shape.length];
            long s = 1;
            for (int d = shape.length - 1; d >= 0; d--) {
                stride[d] = s;
                s *= shape[d];
            }
            w.tensor(e.getKey(), k, 0, shape, stride);
        }
        w.writeZip(file, "archive", false);
    }

    /**
     * An A1111 textual-inversion {@code .pt} holding these float vectors [n, width]:
     * {@code {'string_to_token': {'*': 265}, 'string_to_param': {'*': tensor}, 'name': name}}.
     */
    public static void writeA1111Embedding(Path file, String name, io.jdiffusion.tensor.Weight vectors) throws IOException {
        long[] shape = vectors.shape();
        TorchCheckpointWriter w = new TorchCheckpointWriter().storage("0", StorageData.floats(vectors.toFloats()))
                .tensor("*", "0", 0, shape, new long[]{shape[1], 1});
        Emitter p = new Emitter().op(0x80).op(2).op('}').op('(');
        p.unicode("string_to_token").op('}').unicode("*").integer(265).op('s');
        p.unicode("string_to_param").op('}').unicode("*");
        w.tensor(p, "*", false);
        p.op('s').unicode("name").unicode(name).op('u').op('.');
        w.writeZip(file, name, false, p.bytes());
    }

    public TorchCheckpointWriter storage(String key, StorageData data) {
        storages.put(key, data);
        return this;
    }

    public TorchCheckpointWriter tensor(String name, String storageKey, long offset, long[] size, long[] stride) {
        tensors.put(name, new View(storageKey, offset, size, stride));
        return this;
    }

    /** The object pickle (protocol 2), storages named by their keys. */
    byte[] pickle(boolean legacy) {
        Emitter p = new Emitter();
        p.op(0x80).op(2);
        if (nestUnderStateDict) p.op('}').unicode("state_dict");
        p.op('}').op('(');
        for (String name : tensors.keySet()) {
            p.unicode(name);
            tensor(p, name, legacy);
        }
        if (extraEntry != null) p.unicode("extra").raw(extraEntry);
        p.op('u');
        if (nestUnderStateDict) p.op('s');
        p.op('.');
        return p.bytes();
    }

    /** Emits the named tensor as torch pickles it: {@code _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}. */
    public void tensor(Emitter p, String name, boolean legacy) {
        View v = tensors.get(name);
        StorageData s = storages.get(v.storageKey());
        p.global("torch._utils", "_rebuild_tensor_v2");
        p.op('(');
        // persistent id ('storage', torch.<Type>, key, 'cpu', numel[, None for the legacy view metadata])
        p.op('(').unicode("storage").global("torch", s.type()).unicode(v.storageKey()).unicode("cpu").integer(s.bytes().length / s.elementBytes());
        if (legacy) p.op('N');
        p.op('t').op('Q');
        p.integer(v.offset()).tuple(v.size()).tuple(v.stride()).op(0x89);
        p.global("collections", "OrderedDict").op(')').op('R');
        p.op('t').op('R');
    }

    /** torch.save's zip layout: {@code <folder>/data.pkl}, {@code <folder>/data/<key>}, byteorder, version. */
    void writeZip(Path file, String folder, boolean deflate) throws IOException {
        writeZip(file, folder, deflate, pickle(false));
    }

    /** The zip layout around a pickle the caller wrote (with {@link #tensor} for the tensors). */
    public void writeZip(Path file, String folder, boolean deflate, byte[] pickle) throws IOException {
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
            entry(zip, folder + "/data.pkl", pickle, deflate);
            entry(zip, folder + "/byteorder", "little".getBytes(StandardCharsets.US_ASCII), deflate);
            for (var s : storages.entrySet()) entry(zip, folder + "/data/" + s.getKey(), s.getValue().bytes(), deflate);
            entry(zip, folder + "/version", "3\n".getBytes(StandardCharsets.US_ASCII), deflate);
        }
    }

    /**
     * The zip layout written with every ZIP64 structure a checkpoint over 4 GB has: sizes and offsets as
     * 0xffffffff in the headers with the real values in ZIP64 extra fields, a ZIP64 end of central directory
     * record and its locator. Entries are stored, each padded to 64-byte alignment as torch does.
     */
    void writeZip64(Path file, String folder) throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put(folder + "/data.pkl", pickle(false));
        for (var s : storages.entrySet()) entries.put(folder + "/data/" + s.getKey(), s.getValue().bytes());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream central = new ByteArrayOutputStream();
        for (var e : entries.entrySet()) {
            byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8), data = e.getValue();
            CRC32 crc = new CRC32();
            crc.update(data);
            long offset = out.size();
            // local header: zip64 extra (sizes) + padding so the data starts 64-byte aligned
            int base = 30 + name.length + 20;
            int pad = (int) ((64 - (offset + base + 4) % 64) % 64);
            ByteBuffer local = le(30 + name.length + 20 + 4 + pad);
            local.putInt(0x04034b50).putShort((short) 45).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt((int) crc.getValue()).putInt(-1).putInt(-1).putShort((short) name.length).putShort((short) (20 + 4 + pad));
            local.put(name).putShort((short) 1).putShort((short) 16).putLong(data.length).putLong(data.length);
            local.putShort((short) 0x4246).putShort((short) pad).put(new byte[pad]);
            out.writeBytes(local.array());
            out.writeBytes(data);
            ByteBuffer c = le(46 + name.length + 28);
            c.putInt(0x02014b50).putShort((short) 45).putShort((short) 45).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt((int) crc.getValue()).putInt(-1).putInt(-1).putShort((short) name.length).putShort((short) 28)
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0).putInt(0).putInt(-1);
            c.put(name).putShort((short) 1).putShort((short) 24).putLong(data.length).putLong(data.length).putLong(offset);
            central.writeBytes(c.array());
        }
        long dirOffset = out.size();
        out.writeBytes(central.toByteArray());
        long end64 = out.size();
        ByteBuffer z = le(56 + 20 + 22);
        z.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                .putLong(entries.size()).putLong(entries.size()).putLong(central.size()).putLong(dirOffset);
        z.putInt(0x07064b50).putInt(0).putLong(end64).putInt(1);
        z.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) -1).putShort((short) -1)
                .putInt(-1).putInt(-1).putShort((short) 0);
        out.writeBytes(z.array());
        Files.write(file, out.toByteArray());
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void entry(ZipOutputStream zip, String name, byte[] data, boolean deflate) throws IOException {
        ZipEntry e = new ZipEntry(name);
        if (!deflate) {
            e.setMethod(ZipEntry.STORED);
            e.setSize(data.length);
            e.setCompressedSize(data.length);
            CRC32 crc = new CRC32();
            crc.update(data);
            e.setCrc(crc.getValue());
        } else {
            e.setMethod(ZipEntry.DEFLATED);
        }
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /** The pre-1.6 layout: magic, protocol, system info, object, storage keys, then each storage's count and bytes. */
    void writeLegacy(Path file) throws IOException {
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(new Emitter().op(0x80).op(2).op(0x8a).op(10)
                    .raw(new byte[]{0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19}).op('.').bytes());
            out.write(new Emitter().op(0x80).op(2).integer(1001).op('.').bytes());
            out.write(new Emitter().op(0x80).op(2).op('}').unicode("little_endian").op(0x88).op('s').op('.').bytes());
            out.write(pickle(true));
            Emitter keys = new Emitter().op(0x80).op(2).op(']').op('(');
            for (String k : storages.keySet()) keys.unicode(k);
            out.write(keys.op('e').op('.').bytes());
            for (StorageData s : storages.values()) {
                out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(s.bytes().length / s.elementBytes()).array());
                out.write(s.bytes());
            }
        }
    }

    /** Pickle opcodes, written by hand. */
    public static final class Emitter {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        public Emitter op(int code) {
            out.write(code);
            return this;
        }

        public Emitter raw(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        public Emitter unicode(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
            out.writeBytes(b);
            return this;
        }

        public Emitter global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
            return this;
        }

        public Emitter integer(long v) {
            op('J');
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(Math.toIntExact(v)).array());
            return this;
        }

        /** BINFLOAT: a Python float, big-endian as pickle writes it. */
        public Emitter floatValue(double v) {
            op('G');
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putDouble(v).array());
            return this;
        }

        public Emitter tuple(long[] values) {
            op('(');
            for (long v : values) integer(v);
            return op('t');
        }

        public byte[] bytes() {
            return out.toByteArray();
        }
    }
}
