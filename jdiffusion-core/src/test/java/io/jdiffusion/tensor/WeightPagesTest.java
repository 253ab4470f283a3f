package io.jdiffusion.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class WeightPagesTest {
    @Test
    void releasedPagesOfAMappedWeightReadBackTheSameValues(@TempDir Path dir) throws IOException {
        int n = 5003; // more than one page, not a whole number of them
        float[] values = new Random32(9).floats(n);
        Path file = dir.resolve("w.bin");
        MemorySegment bytes = MemorySegment.ofArray(new byte[n * 4]);
        for (int i = 0; i < n; i++) bytes.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, values[i]);
        Files.write(file, bytes.toArray(ValueLayout.JAVA_BYTE));
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, n * 4L, arena);
            Weight whole = new Weight("w", DType.F32, new long[]{n}, mapped);
            Weight part = new Weight("p", DType.F32, new long[]{1000}, mapped.asSlice(4000, 4000));
            Weights set = new Weights(Map.of("w", whole, "p", part), "test");
            assertThat(whole.toFloats()).containsExactly(values);

            set.releasePages();

            assertThat(whole.toFloats()).containsExactly(values);
            assertThat(part.toFloats()).containsExactly(java.util.Arrays.copyOfRange(values, 1000, 2000));
        }
    }

    @Test
    void weightsHeldInMemoryAreLeftAsTheyAre() {
        float[] values = {1.5f, -2f, 3.25f};
        Weight w = Weight.ofFloats("w", values, 3);
        w.releasePages();
        assertThat(w.toFloats()).containsExactly(values);
    }
}
