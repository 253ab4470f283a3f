package io.jdiffusion.io;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TorchCheckpointTest {
    @TempDir
    Path dir;

    // ------------------------------------------------------------ the fixture checkpoint

    @Test
    void ckptHoldsExactlyTheTensorsOfItsSafetensorsTwin() {
        JsonNode c = Fixtures.cases("ckpt").getFirst();
        TorchCheckpoint ckpt = TorchCheckpoint.open(Fixtures.require(c.get("file").asText()));
        SafeTensors twin = SafeTensors.open(Fixtures.require(c.get("same_weights_as").asText()));

        TreeSet<String> names = new TreeSet<>(ckpt.tensors().keySet());
        names.addAll(ckpt.unreadable().keySet());
        TreeSet<String> twinNames = new TreeSet<>(twin.tensors().keySet());
        twinNames.addAll(twin.unreadable().keySet());
        assertThat(names).isEqualTo(twinNames).hasSize(c.get("tensors").asInt());
        assertThat(ckpt.unreadable()).isEqualTo(twin.unreadable());
        for (String name : twin.tensors().keySet()) {
            Weight a = ckpt.get(name), e = twin.get(name);
            assertThat(a.dtype()).as(name).isEqualTo(e.dtype());
            assertThat(a.shape()).as(name).isEqualTo(e.shape());
            assertThat(a.data().mismatch(e.data())).as(name + " bytes").isEqualTo(-1L);
            // stored entries are views of the mapped file, not copies
            assertThat(a.data().isMapped()).as(name + " mapped").isTrue();
        }
    }

    @Test
    void rootIsTheSavedObject() {
        JsonNode c = Fixtures.cases("ckpt").getFirst();
        TorchCheckpoint ckpt = TorchCheckpoint.open(Fixtures.require(c.get("file").asText()));
        List<String> expected = new ArrayList<>();
        c.get("top_level_keys").forEach(k -> expected.add(k.asText()));
        assertThat(new ArrayList<Object>(((Map<?, ?>) ckpt.root()).keySet())).containsExactlyElementsOf(expected);
    }

    @Test
    void tensorFileOpensCheckpointsByContent() throws IOException {
        Path renamed = dir.resolve("weights.data");
        Files.copy(Fixtures.require("tiny-sd15.ckpt"), renamed);
        assertThat(TensorFile.open(renamed)).isInstanceOf(TorchCheckpoint.class);
        assertThat(TensorFile.open(Fixtures.require("tiny-sd15.safetensors"))).isInstanceOf(SafeTensors.class);
    }

    // ------------------------------------------------------------ hostile pickles

    static List<JsonNode> maliciousCases() {
        return Fixtures.cases("malicious_pickle");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("maliciousCases")
    void hostilePickleIsRefusedNamingFileAndGlobalAndNothingRuns(JsonNode c) {
        Path file = Fixtures.require(c.get("file").asText());
        Path marker = Path.of(c.get("marker").asText()).toAbsolutePath();
        // "posix system (GLOBAL)" → posix.system
        String global = c.get("dangerous_globals").get(0).asText().replaceAll(" \\(.*\\)$", "").replace(' ', '.');

        for (Runnable load : List.<Runnable>of(() -> TorchCheckpoint.open(file), () -> ModelLoader.load(file))) {
            assertThatThrownBy(load::run).isInstanceOf(JDiffusionException.class)
                    .satisfies(e -> assertThat(e.getMessage()).startsWith(file + ": refused")
                            .contains("'" + global + "'").doesNotContain("\n"));
        }
        assertThat(marker).doesNotExist();
    }

    @Test
    void anyUnlistedGlobalIsRefusedWhereverItSits() throws IOException {
        TorchCheckpointWriter w = smallCheckpoint();
        // a harmless-looking builtin is refused just the same: only the list loads
        w.extraEntry = new TorchCheckpointWriter.Emitter().global("builtins", "getattr").bytes();
        Path file = dir.resolve("getattr.ckpt");
        w.writeZip(file, "archive", false);
        assertThatThrownBy(() -> TorchCheckpoint.open(file)).hasMessageContaining("'builtins.getattr'");

        // STACK_GLOBAL (protocol 4) goes through the same list
        w.extraEntry = new TorchCheckpointWriter.Emitter().unicode("os").unicode("system").op(0x93).bytes();
        w.writeZip(file, "archive", false);
        assertThatThrownBy(() -> TorchCheckpoint.open(file)).hasMessageContaining("'os.system'");
    }

    // ------------------------------------------------------------ views, formats, damage

    private static TorchCheckpointWriter smallCheckpoint() {
        return new TorchCheckpointWriter()
                .storage("0", TorchCheckpointWriter.StorageData.floats(0, 1, 2, 3, 4, 5))
                .storage("1", TorchCheckpointWriter.StorageData.longs(7, 8, 9))
                // a [2, 3] matrix, its transpose as a strided view of the same storage, and a slice at an offset
                .tensor("matrix", "0", 0, new long[]{2, 3}, new long[]{3, 1})
                .tensor("transposed", "0", 0, new long[]{3, 2}, new long[]{1, 3})
                .tensor("tail", "0", 4, new long[]{2}, new long[]{1})
                .tensor("scalar", "0", 5, new long[]{}, new long[]{})
                .tensor("ids", "1", 0, new long[]{3}, new long[]{1});
    }

    private static void assertSmallCheckpoint(TorchCheckpoint ckpt) {
        assertThat(ckpt.get("matrix").toFloats()).containsExactly(0, 1, 2, 3, 4, 5);
        assertThat(ckpt.get("matrix").shape()).containsExactly(2, 3);
        assertThat(ckpt.get("transposed").toFloats()).containsExactly(0, 3, 1, 4, 2, 5);
        assertThat(ckpt.get("transposed").shape()).containsExactly(3, 2);
        assertThat(ckpt.get("tail").toFloats()).containsExactly(4, 5);
        assertThat(ckpt.get("scalar").toFloats()).containsExactly(5);
        assertThat(ckpt.get("scalar").shape()).isEmpty();
        assertThat(ckpt.unreadable()).containsExactly(Map.entry("ids", "I64"));
        assertThatThrownBy(() -> ckpt.get("ids")).hasMessageContaining("'ids' has unsupported dtype I64");
    }

    @Test
    void stridedAndOffsetViewsAreHonoured() throws IOException {
        Path file = dir.resolve("small.ckpt");
        smallCheckpoint().writeZip(file, "archive", false);
        TorchCheckpoint ckpt = TorchCheckpoint.open(file);
        assertSmallCheckpoint(ckpt);
        // contiguous views stay in the file; the transposed one is the only copy
        assertThat(ckpt.get("tail").data().isMapped()).isTrue();
        assertThat(ckpt.get("transposed").data().isMapped()).isFalse();
    }

    @Test
    void deflatedEntriesAreInflated() throws IOException {
        Path file = dir.resolve("deflated.pt");
        smallCheckpoint().writeZip(file, "deflated", true);
        assertSmallCheckpoint(TorchCheckpoint.open(file));
    }

    @Test
    void zip64ArchiveIsRead() throws IOException {
        // checkpoints over 4 GB have every size and offset in ZIP64 fields
        Path file = dir.resolve("zip64.ckpt");
        smallCheckpoint().writeZip64(file, "archive");
        TorchCheckpoint ckpt = TorchCheckpoint.open(file);
        assertSmallCheckpoint(ckpt);
        assertThat(ckpt.get("matrix").data().address() % 64).as("64-byte aligned in the mapping").isZero();
    }

    @Test
    void legacyFormatIsRead() throws IOException {
        Path file = dir.resolve("legacy.pt");
        smallCheckpoint().writeLegacy(file);
        assertSmallCheckpoint(TorchCheckpoint.open(file));
    }

    @Test
    void flatStateDictIsTheFileItself() throws IOException {
        TorchCheckpointWriter w = smallCheckpoint();
        w.nestUnderStateDict = false; // as diffusers .bin files and LoRA .pt files are
        Path file = dir.resolve("flat.bin");
        w.writeZip(file, "archive", false);
        assertSmallCheckpoint(TorchCheckpoint.open(file));
    }

    @Test
    void viewPastTheEndOfItsStorageIsRefused() throws IOException {
        Path file = dir.resolve("overrun.ckpt");
        new TorchCheckpointWriter().storage("0", TorchCheckpointWriter.StorageData.floats(1, 2, 3))
                .tensor("w", "0", 2, new long[]{2}, new long[]{1}).writeZip(file, "archive", false);
        assertThatThrownBy(() -> TorchCheckpoint.open(file)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith(file + ": tensor of shape [2] reaches element 3 of storage '0', which has 3");
    }

    @Test
    void truncatedCheckpointIsRefusedNamingTheFile() throws IOException {
        Path whole = Fixtures.require("tiny-sd15.ckpt");
        Path cut = dir.resolve("cut.ckpt");
        byte[] bytes = Files.readAllBytes(whole);
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertThatThrownBy(() -> TorchCheckpoint.open(cut)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith(cut + ": ").hasMessageContaining("truncated");
    }

    @Test
    void missingStorageEntryIsRefused() throws IOException {
        TorchCheckpointWriter w = smallCheckpoint();
        Path file = dir.resolve("missing.ckpt");
        TorchCheckpointWriter without = new TorchCheckpointWriter();
        without.tensors.putAll(w.tensors);
        without.storages.putAll(w.storages);
        // the pickle names storage "1", but the archive has no data/1 entry
        byte[] pickle = without.pickle(false);
        try (var zip = new java.util.zip.ZipOutputStream(Files.newOutputStream(file))) {
            zip.putNextEntry(new java.util.zip.ZipEntry("archive/data.pkl"));
            zip.write(pickle);
            zip.putNextEntry(new java.util.zip.ZipEntry("archive/data/0"));
            zip.write(w.storages.get("0").bytes());
        }
        assertThatThrownBy(() -> TorchCheckpoint.open(file)).hasMessage(file + ": storage '1' is missing from the archive");
    }

    @Test
    void zipWithoutAPickleIsNotACheckpoint() throws IOException {
        Path file = dir.resolve("other.zip");
        try (var zip = new java.util.zip.ZipOutputStream(Files.newOutputStream(file))) {
            zip.putNextEntry(new java.util.zip.ZipEntry("readme.txt"));
            zip.write("hello".getBytes(StandardCharsets.US_ASCII));
        }
        assertThatThrownBy(() -> TorchCheckpoint.open(file)).hasMessage(file + ": is a zip archive but not a PyTorch checkpoint (no data.pkl)");
    }
}
