package io.jdiffusion.io;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.DType;
import io.jdiffusion.tensor.Weight;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint written by {@code torch.save} (.ckpt, .pt, .pth, .bin), read without Python and without
 * running any of it.
 *
 * <p>Two layouts exist. Since PyTorch 1.6 the file is a zip archive: {@code <folder>/data.pkl} is a
 * pickle of the saved object in which every tensor is a call {@code torch._utils._rebuild_tensor_v2(storage,
 * offset, size, stride, ...)} and every storage a persistent id {@code ('storage', torch.HalfStorage, key,
 * location, numel)} naming the raw little-endian entry {@code <folder>/data/<key>}. Before, the file was
 * several pickles in a row (magic number, protocol, system info, the object, the storage keys) followed by
 * each storage's element count and bytes.
 *
 * <p>The pickle is read by {@link Pickle} with an allow-list of globals: the tensor rebuild functions,
 * the storage types, OrderedDict and the builtin containers, and a few classes that real checkpoints carry
 * as inert data (a textual-inversion ParameterDict, Lightning's ModelCheckpoint callback, NumPy scalars),
 * which are recorded and never constructed. Any other global ({@code os.system}, {@code builtins.eval},
 * {@code subprocess.Popen}, ...) refuses the whole file, naming it.
 *
 * <p>Tensors stored in an uncompressed entry are slices of the memory-mapped file (no copy); a tensor
 * whose strides are not the contiguous row-major ones (a transposed view saved as it was) is copied once
 * into row-major order, in its stored dtype.
 *
 * <p>As a {@link TensorFile} the checkpoint is its state dict: the object's {@code state_dict} entry when it
 * has one (Lightning and CompVis checkpoints), else the object itself when it is a dict of tensors
 * (diffusers .bin, LoRA .pt). {@link #root()} is the whole object, for formats that nest their tensors
 * (textual-inversion embeddings, hypernetworks).
 */
public final class TorchCheckpoint implements TensorFile {

    /** A torch storage class: the element type of the raw bytes. */
    public record StorageType(String name, String dtype, int elementBytes) {
        /** The engine's dtype, or null for types it does not compute with (integers, doubles, bools). */
        public DType engineType() {
            return DType.fromSafetensors(dtype);
        }
    }

    private static final Map<String, StorageType> STORAGE_TYPES = storageTypes();

    private static Map<String, StorageType> storageTypes() {
        Map<String, StorageType> m = new LinkedHashMap<>();
        for (StorageType t : List.of(
                new StorageType("HalfStorage", "F16", 2), new StorageType("FloatStorage", "F32", 4),
                new StorageType("BFloat16Storage", "BF16", 2), new StorageType("DoubleStorage", "F64", 8),
                new StorageType("LongStorage", "I64", 8), new StorageType("IntStorage", "I32", 4),
                new StorageType("ShortStorage", "I16", 2), new StorageType("CharStorage", "I8", 1),
                new StorageType("ByteStorage", "U8", 1), new StorageType("BoolStorage", "BOOL", 1))) {
            m.put(t.name(), t);
        }
        return Collections.unmodifiableMap(m);
    }

    /** A storage a tensor lives in; its bytes are found once the whole file has been read. */
    static final class Storage {
        final String key;
        final StorageType type;
        final long numel;
        MemorySegment bytes;

        Storage(String key, StorageType type, long numel) {
            this.key = key;
            this.type = type;
            this.numel = numel;
        }
    }

    /**
     * A tensor of the checkpoint: a view (element offset, sizes, strides) of a storage. The values of
     * {@link #root()} hold these wherever the saved object had a tensor.
     */
    public static final class StoredTensor {
        private final Path file;
        private final Storage storage;
        private final long offset;
        private final long[] size;
        private final long[] stride;

        StoredTensor(Path file, Storage storage, long offset, long[] size, long[] stride) {
            this.file = file;
            this.storage = storage;
            this.offset = offset;
            this.size = size;
            this.stride = stride;
        }

        public long[] shape() {
            return size.clone();
        }

        /** The stored element type as safetensors spells it (F16, F32, I64, ...). */
        public String dtypeName() {
            return storage.type.dtype();
        }

        /** Whether the engine can compute with this dtype (F32, F16, BF16). */
        public boolean readable() {
            return storage.type.engineType() != null;
        }

        /** The tensor as a weight of that name: a view of the file, or a row-major copy when it is strided. */
        public Weight toWeight(String name) {
            DType dtype = storage.type.engineType();
            if (dtype == null) {
                throw new JDiffusionException(file + ": tensor '" + name + "' has unsupported dtype " + dtypeName()
                        + " (supported: F32, F16, BF16)");
            }
            int eb = dtype.bytes;
            long numel = Weight.numel(size);
            if (numel == 0) return new Weight(name, dtype, size.clone(), MemorySegment.ofArray(new byte[0]));
            if (contiguous()) return new Weight(name, dtype, size.clone(), storage.bytes.asSlice(offset * eb, numel * eb));
            return new Weight(name, dtype, size.clone(), gather(eb, numel));
        }

        private boolean contiguous() {
            long expected = 1;
            for (int d = size.length - 1; d >= 0; d--) {
                if (size[d] != 1 && stride[d] != expected) return false;
                expected *= size[d];
            }
            return true;
        }

        /** Copies a strided view into row-major order, element by element (bytes kept as stored). */
        private MemorySegment gather(int eb, long numel) {
            MemorySegment out = Arena.ofAuto().allocate(numel * eb);
            long[] index = new long[size.length];
            for (long i = 0; i < numel; i++) {
                long src = offset;
                for (int d = 0; d < size.length; d++) src += index[d] * stride[d];
                MemorySegment.copy(storage.bytes, src * eb, out, i * eb, eb);
                for (int d = size.length - 1; d >= 0; d--) {
                    if (++index[d] < size[d]) break;
                    index[d] = 0;
                }
            }
            return out;
        }
    }

    private final Path path;
    private final Object root;
    private final Map<String, Weight> tensors;
    private final Map<String, String> unreadable;

    private TorchCheckpoint(Path path, Object root, Map<String, Weight> tensors, Map<String, String> unreadable) {
        this.path = path;
        this.root = root;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.unreadable = Collections.unmodifiableMap(unreadable);
    }

    /** True when the file starts like a torch.save file: a zip archive, or a pickle (protocol 2 or later). */
    public static boolean looksLikeTorch(Path file) {
        if (!Files.isRegularFile(file)) return false;
        try (var in = Files.newInputStream(file)) {
            byte[] head = in.readNBytes(4);
            boolean zip = head.length == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
            boolean pickle = head.length >= 2 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5;
            return zip || pickle;
        } catch (IOException e) {
            return false;
        }
    }

    /** Maps and reads the checkpoint; it is unmapped once neither this object nor any of its weights is reachable. */
    public static TorchCheckpoint open(Path path) {
        if (Files.isDirectory(path)) throw new JDiffusionException(path + ": is a directory, not a checkpoint file");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment file = size == 0 ? MemorySegment.ofArray(new byte[0])
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, Arena.ofAuto());
            Object root = ZipArchive.isZip(file) ? readZip(path, file) : readLegacy(path, file);
            return withStateDict(path, root);
        } catch (NoSuchFileException e) {
            throw new JDiffusionException(path + ": no such file");
        } catch (IOException e) {
            throw new JDiffusionException(path + ": cannot read (" + e.getMessage() + ")");
        }
    }

    /** The whole saved object: dicts, lists, {@link Pickle.Tuple}s, strings, numbers and {@link StoredTensor}s. */
    public Object root() {
        return root;
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public Map<String, Weight> tensors() {
        return tensors;
    }

    @Override
    public Map<String, String> unreadable() {
        return unreadable;
    }

    // ---------------------------------------------------------------- the state dict

    private static TorchCheckpoint withStateDict(Path path, Object root) {
        Map<String, Weight> tensors = new LinkedHashMap<>();
        Map<String, String> unreadable = new LinkedHashMap<>();
        Map<?, ?> dict = root instanceof Map<?, ?> m ? m : Map.of();
        if (dict.get("state_dict") instanceof Map<?, ?> inner) dict = inner;
        for (var e : dict.entrySet()) {
            if (!(e.getKey() instanceof String name) || !(e.getValue() instanceof StoredTensor t)) continue;
            if (t.readable()) tensors.put(name, t.toWeight(name));
            else unreadable.put(name, t.dtypeName());
        }
        return new TorchCheckpoint(path, root, tensors, unreadable);
    }

    // ---------------------------------------------------------------- zip archives (PyTorch 1.6 and later)

    private static Object readZip(Path path, MemorySegment file) {
        ZipArchive zip = ZipArchive.read(path, file);
        String folder = null;
        for (String name : zip.entries().keySet()) {
            int slash = name.indexOf('/');
            if (slash > 0 && name.substring(slash).equals("/data.pkl")) {
                if (folder != null) throw new JDiffusionException(path + ": holds two pickles (" + folder + "/data.pkl and " + name + ")");
                folder = name.substring(0, slash);
            }
        }
        if (folder == null) {
            boolean script = zip.entries().keySet().stream().anyMatch(n -> n.endsWith("/constants.pkl") || n.contains("/code/"));
            throw new JDiffusionException(path + (script ? ": is a TorchScript archive, not a checkpoint of weights"
                    : ": is a zip archive but not a PyTorch checkpoint (no data.pkl)"));
        }
        ZipArchive.Entry byteorder = zip.entries().get(folder + "/byteorder");
        if (byteorder != null) {
            String order = new String(zip.data(byteorder, true).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).strip();
            if (!order.equals("little")) throw new JDiffusionException(path + ": tensors are stored " + order + "-endian; only little-endian files are read");
        }
        ZipArchive.Entry pkl = zip.entries().get(folder + "/data.pkl");
        MemorySegment pickle = zip.data(pkl, true);
        Map<String, Storage> storages = new LinkedHashMap<>();
        String source = path.toString();
        Object root = Pickle.load(pickle, 0, pickle.byteSize(), source, (m, n) -> allowed(path, m, n),
                pid -> storage(path, pid, storages)).value();
        for (Storage s : storages.values()) {
            ZipArchive.Entry e = zip.entries().get(folder + "/data/" + s.key);
            if (e == null) throw new JDiffusionException(path + ": storage '" + Pickle.printable(s.key) + "' is missing from the archive");
            s.bytes = zip.data(e, false);
            checkStorageSize(path, s);
        }
        return root;
    }

    // ---------------------------------------------------------------- the legacy format (before PyTorch 1.6)

    private static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final long LEGACY_PROTOCOL = 1001;

    private static Object readLegacy(Path path, MemorySegment file) {
        long size = file.byteSize();
        if (size > 262 && new String(file.asSlice(257, 5).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).equals("ustar")) {
            throw new JDiffusionException(path + ": is a tar-format PyTorch file (before PyTorch 0.4), which is not read; re-save it");
        }
        if (size < 2 || (file.get(ValueLayout.JAVA_BYTE, 0) & 0xff) != 0x80) {
            throw new JDiffusionException(path + ": not a PyTorch checkpoint (neither a zip archive nor a pickle)");
        }
        String source = path.toString();
        Pickle.Globals none = (m, n) -> null;
        Pickle.Result magic = Pickle.load(file, 0, size, source, (m, n) -> allowed(path, m, n), null);
        if (!(magic.value() instanceof BigInteger b) || !b.equals(LEGACY_MAGIC)) {
            throw new JDiffusionException(path + ": a pickle, but not a PyTorch checkpoint (no torch.save magic number)");
        }
        Pickle.Result protocol = Pickle.load(file, magic.end(), size, source, none, null);
        if (!(protocol.value() instanceof Long p) || p != LEGACY_PROTOCOL) {
            throw new JDiffusionException(path + ": unknown torch.save protocol version " + Pickle.describe(protocol.value()));
        }
        Pickle.Result sysInfo = Pickle.load(file, protocol.end(), size, source, none, null);
        if (sysInfo.value() instanceof Map<?, ?> info && Boolean.FALSE.equals(info.get("little_endian"))) {
            throw new JDiffusionException(path + ": tensors are stored big-endian; only little-endian files are read");
        }
        Map<String, Storage> storages = new LinkedHashMap<>();
        Pickle.Result object = Pickle.load(file, sysInfo.end(), size, source, (m, n) -> allowed(path, m, n),
                pid -> storage(path, pid, storages));
        Pickle.Result keys = Pickle.load(file, object.end(), size, source, none, null);
        if (!(keys.value() instanceof List<?> keyList)) throw new JDiffusionException(path + ": storage key list missing");

        // each storage: its element count (8 bytes, little-endian), then its bytes, in the order of the key list
        long at = keys.end();
        for (Object k : keyList) {
            Storage s = k instanceof String key ? storages.get(key) : null;
            if (s == null) throw new JDiffusionException(path + ": storage key " + Pickle.describe(k) + " is used by no tensor");
            if (at + 8 > size) throw new JDiffusionException(path + ": truncated (storage '" + Pickle.printable(s.key) + "' is missing)");
            long count = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at);
            long bytes = byteSize(path, s.type, count);
            if (bytes > size - at - 8) throw new JDiffusionException(path + ": truncated (storage '" + Pickle.printable(s.key) + "' runs past the end)");
            s.bytes = file.asSlice(at + 8, bytes);
            checkStorageSize(path, s);
            at += 8 + bytes;
        }
        for (Storage s : storages.values()) {
            if (s.bytes == null) throw new JDiffusionException(path + ": storage '" + Pickle.printable(s.key) + "' has no data in the file");
        }
        return object.value();
    }

    // ---------------------------------------------------------------- storages and tensors

    /** A persistent id {@code ('storage', type, key, location, numel[, view])}: the one storage per key. */
    private static Object storage(Path path, Object pid, Map<String, Storage> storages) {
        if (!(pid instanceof Pickle.Tuple t) || t.size() < 5 || !"storage".equals(t.get(0))) {
            throw new JDiffusionException(path + ": unknown persistent id " + Pickle.describe(pid) + " (not a torch storage)");
        }
        if (!(t.get(1) instanceof StorageType type)) throw new JDiffusionException(path + ": storage without a storage type");
        if (!(t.get(2) instanceof String key)) throw new JDiffusionException(path + ": storage with a key that is not a string");
        if (!(t.get(4) instanceof Long numel) || numel < 0) throw new JDiffusionException(path + ": storage '" + key + "' without a size");
        if (t.size() > 5 && t.get(5) != null) {
            throw new JDiffusionException(path + ": storage '" + Pickle.printable(key) + "' is a view of another storage (a pre-1.0 PyTorch feature), which is not read");
        }
        Storage s = storages.get(key);
        if (s == null) {
            byteSize(path, type, numel); // refuses a size that overflows before anything is read
            s = new Storage(key, type, numel);
            storages.put(key, s);
        } else if (s.type != type || s.numel != numel) {
            throw new JDiffusionException(path + ": storage '" + Pickle.printable(key) + "' is described twice, differently");
        }
        return s;
    }

    private static long byteSize(Path path, StorageType type, long numel) {
        try {
            if (numel < 0) throw new ArithmeticException();
            return Math.multiplyExact(numel, type.elementBytes());
        } catch (ArithmeticException e) {
            throw new JDiffusionException(path + ": storage of " + numel + " elements is impossibly large");
        }
    }

    private static void checkStorageSize(Path path, Storage s) {
        long needed = byteSize(path, s.type, s.numel);
        if (s.bytes.byteSize() < needed) {
            throw new JDiffusionException(path + ": storage '" + Pickle.printable(s.key) + "' has " + s.bytes.byteSize() + " bytes but "
                    + s.numel + " " + s.type.name() + " elements need " + needed + " (damaged file)");
        }
    }

    /** {@code _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])}, checked against the storage. */
    private static StoredTensor rebuildTensor(Path path, List<Object> args) {
        if (args.size() < 4) throw new JDiffusionException(path + ": tensor rebuilt from " + args.size() + " arguments");
        if (!(args.get(0) instanceof Storage s)) throw new JDiffusionException(path + ": tensor without a storage");
        if (!(args.get(1) instanceof Long offset) || offset < 0) throw new JDiffusionException(path + ": tensor with a bad storage offset");
        long[] size = longs(path, args.get(2), "size");
        long[] stride = longs(path, args.get(3), "stride");
        if (size.length != stride.length) throw new JDiffusionException(path + ": tensor with " + size.length + " sizes but " + stride.length + " strides");
        // the last element the view reaches must lie inside the storage
        try {
            long numel = 1, last = offset;
            for (int d = 0; d < size.length; d++) {
                numel = Math.multiplyExact(numel, size[d]);
                if (size[d] > 0) last = Math.addExact(last, Math.multiplyExact(size[d] - 1, stride[d]));
            }
            if (numel > 0 && last >= s.numel) {
                throw new JDiffusionException(path + ": tensor of shape " + java.util.Arrays.toString(size) + " reaches element " + last
                        + " of storage '" + Pickle.printable(s.key) + "', which has " + s.numel);
            }
        } catch (ArithmeticException e) {
            throw new JDiffusionException(path + ": tensor of shape " + java.util.Arrays.toString(size) + " is impossibly large");
        }
        return new StoredTensor(path, s, offset, size, stride);
    }

    private static long[] longs(Path path, Object o, String what) {
        if (!(o instanceof Pickle.Tuple t)) throw new JDiffusionException(path + ": tensor " + what + " is not a tuple");
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(t.get(i) instanceof Long v) || v < 0) throw new JDiffusionException(path + ": tensor " + what + " holds " + Pickle.describe(t.get(i)));
            out[i] = v;
        }
        return out;
    }

    // ---------------------------------------------------------------- the allow-list

    /**
     * What each allowed global stands for; null refuses the file. Everything here is Java that builds
     * plain data: no name the file gives is ever looked up anywhere else.
     */
    private static Object allowed(Path path, String module, String name) {
        String full = module + "." + name;
        return switch (full) {
            case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" ->
                    (Pickle.Callable) args -> rebuildTensor(path, args);
            // a Parameter is its tensor; requires_grad, hooks and state only matter for training
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> (Pickle.Callable) args -> {
                if (args.isEmpty() || !(args.getFirst() instanceof StoredTensor t)) {
                    throw new JDiffusionException(path + ": parameter without a tensor");
                }
                return t;
            };
            case "collections.OrderedDict", "builtins.dict" -> (Pickle.Callable) args -> {
                Map<Object, Object> dict = new LinkedHashMap<>();
                if (!args.isEmpty()) {
                    for (Object pair : iterable(path, args.getFirst())) {
                        if (!(pair instanceof Pickle.Tuple t) || t.size() != 2) throw new JDiffusionException(path + ": dict built from non-pairs");
                        dict.put(t.get(0), t.get(1));
                    }
                }
                return dict;
            };
            case "builtins.set" -> (Pickle.Callable) args -> new LinkedHashSet<>(args.isEmpty() ? List.of() : iterable(path, args.getFirst()));
            case "builtins.frozenset" -> (Pickle.Callable) args ->
                    Collections.unmodifiableSet(new LinkedHashSet<>(args.isEmpty() ? List.of() : iterable(path, args.getFirst())));
            case "builtins.list" -> (Pickle.Callable) args -> new ArrayList<>(args.isEmpty() ? List.of() : iterable(path, args.getFirst()));
            case "builtins.tuple", "torch.Size" -> (Pickle.Callable) args -> new Pickle.Tuple(args.isEmpty() ? List.of() : iterable(path, args.getFirst()));
            // protocol 2 pickles bytes as _codecs.encode(text, 'latin1')
            case "_codecs.encode" -> (Pickle.Callable) args -> {
                if (args.size() != 2 || !(args.get(0) instanceof String text) || !("latin1".equals(args.get(1)) || "latin-1".equals(args.get(1)))) {
                    throw new JDiffusionException(path + ": _codecs.encode used for something other than latin-1 bytes");
                }
                return text.getBytes(StandardCharsets.ISO_8859_1);
            };
            // data that full training checkpoints (sd-v1-4.ckpt) and textual-inversion files carry: recorded, never built
            case "torch.nn.modules.container.ParameterDict",
                 "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
                 "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype" -> new Pickle.InertClass(full);
            default -> module.equals("torch") ? STORAGE_TYPES.get(name) : null;
        };
    }

    private static List<Object> iterable(Path path, Object o) {
        if (o instanceof List<?> l) return new ArrayList<>(l);
        if (o instanceof Pickle.Tuple t) return t.items();
        if (o instanceof java.util.Set<?> s) return new ArrayList<>(s);
        throw new JDiffusionException(path + ": container built from " + Pickle.describe(o));
    }
}
