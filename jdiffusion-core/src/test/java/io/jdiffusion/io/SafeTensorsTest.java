package io.jdiffusion.io;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.DType;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafeTensorsTest {
    @TempDir
    Path dir;

    static List<JsonNode> malformedCases() {
        return Fixtures.cases("malformed_safetensors");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedCases")
    void refusesEachMalformedFixtureNamingFileAndTensor(JsonNode c) {
        Path file = Fixtures.require(c.get("file").asText());
        assertThatThrownBy(() -> SafeTensors.open(file))
                .isInstanceOf(JDiffusionException.class)
                .satisfies(e -> {
                    String msg = e.getMessage();
                    assertThat(msg).doesNotContain("\n").contains(file.toString());
                    if (c.has("tensor")) assertThat(msg).contains("'" + c.get("tensor").asText() + "'");
                });
    }

    @Test
    void truncatedFixtureSaysItEndsEarly() {
        Path file = Fixtures.require("untrusted/bad-truncated.safetensors");
        assertThatThrownBy(() -> SafeTensors.open(file)).hasMessageContaining("truncated");
    }

    @Test
    void headerLengthFixtureReportsTheClaimedLength() {
        Path file = Fixtures.require("untrusted/bad-header-length.safetensors");
        assertThatThrownBy(() -> SafeTensors.open(file)).hasMessageContaining("1099511627776").hasMessageContaining("header length");
    }

    // --- synthetic files ---

    /** Writes the raw layout: u64 header length, header text, data bytes. */
    private Path raw(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    private void assertRefused(Path p, String... fragments) {
        assertThatThrownBy(() -> SafeTensors.open(p))
                .isInstanceOf(JDiffusionException.class)
                .satisfies(e -> {
                    assertThat(e.getMessage()).doesNotContain("\n").startsWith(p.toString() + ": ");
                    for (String f : fragments) assertThat(e.getMessage()).contains(f);
                });
    }

    @Test
    void readsAWellFormedFile() throws IOException {
        Path p = raw("ok.safetensors", """
                {"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},\
                "b":{"dtype":"F16","shape":[1,1],"data_offsets":[8,10]}}""", new byte[]{0, 0, (byte) 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0x3c});
        SafeTensors st = SafeTensors.open(p);
        assertThat(st.tensors().keySet()).containsExactly("a", "b");
        assertThat(st.get("a").toFloats()).containsExactly(1f, 2f);
        assertThat(st.get("b").toFloats()).containsExactly(1f);
        assertThat(st.metadata()).containsEntry("format", "pt");
    }

    @Test
    void emptyFile() throws IOException {
        Path p = dir.resolve("empty.safetensors");
        Files.write(p, new byte[0]);
        assertRefused(p, "0 bytes");
    }

    @Test
    void missingFile() {
        assertRefused(dir.resolve("nope.safetensors"), "no such file");
    }

    @Test
    void badJson() throws IOException {
        assertRefused(raw("json.safetensors", "{\"a\":{\"dtype\":\"F32\",", new byte[0]), "not valid JSON");
    }

    @Test
    void headerNotAnObject() throws IOException {
        assertRefused(raw("array.safetensors", "[1, 2, 3]", new byte[0]), "not a JSON object");
        assertRefused(raw("string.safetensors", "\"abc\"", new byte[0]), "not a JSON object");
    }

    @Test
    void trailingGarbageAfterTheHeaderObject() throws IOException {
        assertRefused(raw("trail.safetensors", "{} {}", new byte[0]), "not valid JSON");
    }

    @Test
    void duplicateTensorName() throws IOException {
        assertRefused(raw("dup.safetensors", """
                {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""",
                new byte[8]), "not valid JSON", "'a'");
    }

    @Test
    void unknownDtypeIsMalformed() throws IOException {
        assertRefused(raw("q4.safetensors", """
                {"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}}""", new byte[1]), "'w'", "unknown dtype 'Q4'");
    }

    @Test
    void formatDtypesWeDoNotComputeWithAreRefusedByNameWhenRead() throws IOException {
        Path p = raw("f64.safetensors", """
                {"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"i":{"dtype":"I8","shape":[2],"data_offsets":[8,10]},\
                "f":{"dtype":"F32","shape":[1],"data_offsets":[10,14]}}""", new byte[14]);
        SafeTensors st = SafeTensors.open(p);
        assertThat(st.unreadable()).containsEntry("d", "F64").containsEntry("i", "I8");
        assertThat(st.tensors()).containsOnlyKeys("f");
        assertThatThrownBy(() -> st.get("d")).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("'d'").hasMessageContaining("unsupported dtype F64");
        assertThatThrownBy(() -> st.get("i")).hasMessageContaining("unsupported dtype I8");
    }

    @Test
    void formatDtypeSizesStillChecked() throws IOException {
        assertRefused(raw("i64.safetensors", """
                {"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}}""", new byte[8]), "'ids'", "needs 16");
    }

    @Test
    void sizeInconsistentWithShape() throws IOException {
        assertRefused(raw("size.safetensors", """
                {"w":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}}""", new byte[4]), "'w'", "occupies 4 bytes", "needs 6");
    }

    @Test
    void overlappingRanges() throws IOException {
        assertRefused(raw("overlap.safetensors", """
                {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""",
                new byte[12]), "'a'", "'b'", "overlap");
    }

    @Test
    void identicalRangesOverlapToo() throws IOException {
        assertRefused(raw("same.safetensors", """
                {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""",
                new byte[4]), "overlap");
    }

    @Test
    void rangePastTheEnd() throws IOException {
        assertRefused(raw("past.safetensors", """
                {"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", new byte[8]), "'w'", "past the end");
    }

    @Test
    void shapeWhoseByteCountOverflowsALong() throws IOException {
        // 2^31 * 2^31 * 2 elements of 4 bytes: the byte count does not fit in 64 bits.
        assertRefused(raw("huge.safetensors", """
                {"w":{"dtype":"F32","shape":[2147483648,2147483648,2],"data_offsets":[0,0]}}""", new byte[0]), "'w'", "large");
    }

    @Test
    void overflowingOffsetsWrapNothing() throws IOException {
        // begin + size would wrap past 2^63: must be refused, not wrapped into range.
        assertRefused(raw("wrap.safetensors", """
                {"w":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775804,9223372036854775808]}}""", new byte[4]), "'w'");
        assertRefused(raw("neg.safetensors", """
                {"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}""", new byte[4]), "'w'", "invalid data_offsets");
        assertRefused(raw("backwards.safetensors", """
                {"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", new byte[4]), "'w'", "invalid data_offsets");
    }

    @Test
    void badShapeAndMissingFields() throws IOException {
        assertRefused(raw("shape.safetensors", """
                {"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", new byte[4]), "'w'", "bad shape");
        assertRefused(raw("noshape.safetensors", """
                {"w":{"dtype":"F32","data_offsets":[0,4]}}""", new byte[4]), "'w'", "no shape");
        assertRefused(raw("nodtype.safetensors", """
                {"w":{"shape":[1],"data_offsets":[0,4]}}""", new byte[4]), "'w'", "no dtype");
        assertRefused(raw("nooffsets.safetensors", """
                {"w":{"dtype":"F32","shape":[1]}}""", new byte[4]), "'w'", "data_offsets");
        assertRefused(raw("notobj.safetensors", """
                {"w":[1,2]}""", new byte[0]), "'w'");
    }

    @Test
    void headerLengthPastTheEndAndHugeLengths() throws IOException {
        for (long claimed : new long[]{1000, Long.MAX_VALUE, -1L /* 2^64-1 unsigned */}) {
            ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(claimed).put("{}      ".getBytes(StandardCharsets.US_ASCII));
            Path p = dir.resolve("len" + claimed + ".safetensors");
            Files.write(p, b.array());
            assertRefused(p, "header length", Long.toUnsignedString(claimed));
        }
    }

    @Test
    void metadataMustBeStrings() throws IOException {
        assertRefused(raw("meta.safetensors", "{\"__metadata__\":{\"a\":1}}", new byte[0]), "__metadata__");
    }

    @Test
    void writerRoundTripsBytesAndKeepsDataAligned() throws IOException {
        Map<String, Weight> in = new LinkedHashMap<>();
        in.put("x", Weight.ofFloats("x", new float[]{1.5f, -2f, 3f}, 3));
        byte[] half = {0x00, 0x3c, 0x00, (byte) 0xc0};
        in.put("h", new Weight("h", DType.F16, new long[]{1, 2}, MemorySegment.ofArray(half)));
        in.put("empty", Weight.ofFloats("empty", new float[0], 0, 4));
        Path p = dir.resolve("out.safetensors");
        SafeTensorsWriter.write(p, in, Map.of("note", "test"));

        SafeTensors st = SafeTensors.open(p);
        assertThat(st.tensors().keySet()).containsExactly("x", "h", "empty");
        assertThat(st.metadata()).containsEntry("note", "test");
        for (String name : in.keySet()) {
            Weight a = in.get(name), b = st.get(name);
            assertThat(b.dtype()).isEqualTo(a.dtype());
            assertThat(b.shape()).isEqualTo(a.shape());
            assertThat(b.data().mismatch(a.data())).isEqualTo(-1L);
        }
        long headerLen = ByteBuffer.wrap(Files.readAllBytes(p), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(headerLen % 8).isZero();
        assertThat(SafeTensors.looksLikeSafetensors(p)).isTrue();
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactly("out.safetensors");
        }
    }
}
