package io.jdiffusion.io;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PngTest {

    private static byte[] randomRgb(int w, int h, long seed) {
        byte[] rgb = new byte[w * h * 3];
        new Random(seed).nextBytes(rgb);
        return rgb;
    }

    /** (type, data) of every chunk, read straight from the bytes. */
    private static List<Map.Entry<String, byte[]>> chunks(byte[] png) {
        List<Map.Entry<String, byte[]>> out = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(png);
        b.position(8);
        while (b.remaining() >= 12) {
            int len = b.getInt();
            byte[] type = new byte[4];
            b.get(type);
            byte[] data = new byte[len];
            b.get(data);
            b.getInt();
            out.add(Map.entry(new String(type, StandardCharsets.US_ASCII), data));
        }
        return out;
    }

    @Test
    void pixelsRoundTripThroughAnIndependentDecoder() throws Exception {
        int w = 37, h = 23;
        byte[] rgb = randomRgb(w, h, 1);
        byte[] png = Png.encode(w, h, rgb, Map.of());

        BufferedImage img = ImageIO.read(new java.io.ByteArrayInputStream(png));
        assertThat(img.getWidth()).isEqualTo(w);
        assertThat(img.getHeight()).isEqualTo(h);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                int expected = (rgb[o] & 0xff) << 16 | (rgb[o + 1] & 0xff) << 8 | (rgb[o + 2] & 0xff);
                assertThat(img.getRGB(x, y) & 0xffffff).as("pixel %d,%d", x, y).isEqualTo(expected);
            }
        }
        assertThat(Png.decode(png, "mem").rgb()).isEqualTo(rgb);
    }

    @Test
    void smoothImagesCompressWellThanksToRowFilters() {
        int w = 256, h = 256;
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                rgb[o] = (byte) x;
                rgb[o + 1] = (byte) y;
                rgb[o + 2] = (byte) (x + y);
            }
        }
        byte[] png = Png.encode(w, h, rgb, Map.of());
        assertThat(png.length).isLessThan(rgb.length / 20);
        assertThat(Png.decode(png, "mem").rgb()).isEqualTo(rgb);
    }

    @Test
    void latin1TextIsATextChunkAndOtherTextAnInternationalOne(@TempDir Path dir) {
        Map<String, String> text = new LinkedHashMap<>();
        text.put("parameters", "café au lait\nSteps: 20, Sampler: Euler a, CFG scale: 7");
        text.put("Comment", "宇宙飛行士が馬に乗っている写真 🚀, naïve");
        Path file = dir.resolve("out.png");
        Png.write(file, 8, 8, randomRgb(8, 8, 2), text);

        Png.Image back = Png.read(file);
        assertThat(back.text()).containsExactlyEntriesOf(text);

        List<Map.Entry<String, byte[]>> chunks;
        try {
            chunks = chunks(Files.readAllBytes(file));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        assertThat(chunks).extracting(Map.Entry::getKey)
                .containsExactly("IHDR", "tEXt", "iTXt", "IDAT", "IEND");
        // tEXt is keyword NUL Latin-1 text, exactly what PIL (and so A1111's PNG Info) reads
        byte[] tEXt = chunks.get(1).getValue();
        byte[] expected = ("parameters\0" + text.get("parameters")).getBytes(StandardCharsets.ISO_8859_1);
        assertThat(tEXt).isEqualTo(expected);
        // iTXt: keyword NUL, uncompressed flag 0, method 0, empty language NUL, empty translation NUL, UTF-8
        byte[] iTXt = chunks.get(2).getValue();
        byte[] head = "Comment\0\0\0\0\0".getBytes(StandardCharsets.ISO_8859_1);
        assertThat(java.util.Arrays.copyOf(iTXt, head.length)).isEqualTo(head);
        assertThat(new String(iTXt, head.length, iTXt.length - head.length, StandardCharsets.UTF_8))
                .isEqualTo(text.get("Comment"));
    }

    @Test
    void readsTextChunksWrittenByImageIo() throws Exception {
        // javax.imageio writes zTXt and compressed iTXt, two forms we do not write ourselves
        BufferedImage img = new BufferedImage(4, 3, BufferedImage.TYPE_INT_RGB);
        javax.imageio.ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        javax.imageio.ImageWriteParam param = writer.getDefaultWriteParam();
        javax.imageio.metadata.IIOMetadata meta = writer.getDefaultImageMetadata(
                javax.imageio.ImageTypeSpecifier.createFromRenderedImage(img), param);
        javax.imageio.metadata.IIOMetadataNode root = new javax.imageio.metadata.IIOMetadataNode("javax_imageio_png_1.0");
        javax.imageio.metadata.IIOMetadataNode ztxt = new javax.imageio.metadata.IIOMetadataNode("zTXt");
        javax.imageio.metadata.IIOMetadataNode ztxtEntry = new javax.imageio.metadata.IIOMetadataNode("zTXtEntry");
        ztxtEntry.setAttribute("keyword", "parameters");
        ztxtEntry.setAttribute("text", "compressed, Latin-1: ÿ");
        ztxtEntry.setAttribute("compressionMethod", "deflate");
        ztxt.appendChild(ztxtEntry);
        root.appendChild(ztxt);
        javax.imageio.metadata.IIOMetadataNode itxt = new javax.imageio.metadata.IIOMetadataNode("iTXt");
        javax.imageio.metadata.IIOMetadataNode itxtEntry = new javax.imageio.metadata.IIOMetadataNode("iTXtEntry");
        itxtEntry.setAttribute("keyword", "prompt");
        itxtEntry.setAttribute("compressionFlag", "TRUE");
        itxtEntry.setAttribute("compressionMethod", "0");
        itxtEntry.setAttribute("languageTag", "ja");
        itxtEntry.setAttribute("translatedKeyword", "プロンプト");
        itxtEntry.setAttribute("text", "馬に乗る宇宙飛行士");
        itxt.appendChild(itxtEntry);
        root.appendChild(itxt);
        meta.mergeTree("javax_imageio_png_1.0", root);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (var out = ImageIO.createImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.write(new javax.imageio.IIOImage(img, null, meta));
        }
        writer.dispose();

        Png.Image back = Png.decode(bytes.toByteArray(), "mem");
        assertThat(back.text()).containsEntry("parameters", "compressed, Latin-1: ÿ")
                .containsEntry("prompt", "馬に乗る宇宙飛行士");
    }

    @Test
    void grayImagesKeepTheirValues() throws Exception {
        BufferedImage gray8 = new BufferedImage(5, 2, BufferedImage.TYPE_BYTE_GRAY);
        BufferedImage gray16 = new BufferedImage(5, 2, BufferedImage.TYPE_USHORT_GRAY);
        WritableRaster r8 = gray8.getRaster(), r16 = gray16.getRaster();
        int[] values = {0, 1, 17, 128, 200, 254, 255, 3, 99, 42};
        for (int i = 0; i < values.length; i++) {
            r8.setSample(i % 5, i / 5, 0, values[i]);
            r16.setSample(i % 5, i / 5, 0, values[i] * 257);
        }
        for (BufferedImage img : new BufferedImage[]{gray8, gray16}) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            ImageIO.write(img, "png", bytes);
            byte[] rgb = Png.decode(bytes.toByteArray(), "mem").rgb();
            for (int i = 0; i < values.length; i++) {
                for (int c = 0; c < 3; c++) assertThat(rgb[i * 3 + c] & 0xff).isEqualTo(values[i]);
            }
        }
    }

    @Test
    void readsTheReferencePngsAsTheReferenceSavedThem() {
        Path png = Fixtures.require("tiny-sd15-ref/txt2img_euler.png");
        Tensor image = Fixtures.tensor(Fixtures.tensors("tiny-sd15-ref/txt2img_euler.safetensors"), "image");
        Png.Image read = Png.read(png);
        assertThat(new int[]{read.height(), read.width(), 3}).isEqualTo(image.shape);
        // the reference stores pixels in [0, 1] and saved them as round(x * 255) through PIL
        int maxDiff = 0;
        for (int i = 0; i < image.data.length; i++) {
            int expected = Math.round(image.data[i] * 255f);
            maxDiff = Math.max(maxDiff, Math.abs((read.rgb()[i] & 0xff) - expected));
        }
        assertThat(maxDiff).isLessThanOrEqualTo(1);
    }

    @Test
    void writingIsAtomicAndLeavesNoTemporaryFiles(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("image.png");
        Png.write(file, 4, 4, randomRgb(4, 4, 3), Map.of("parameters", "first"));
        Png.write(file, 4, 4, randomRgb(4, 4, 4), Map.of("parameters", "second"));
        assertThat(Png.read(file).text()).containsEntry("parameters", "second");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void aMissingFolderIsAnErrorAndCreatesNothing(@TempDir Path dir) {
        Path file = dir.resolve("missing/image.png");
        assertThatThrownBy(() -> Png.write(file, 4, 4, randomRgb(4, 4, 5), Map.of()))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("does not exist");
        assertThat(dir.resolve("missing")).doesNotExist();
    }

    @Test
    void corruptFilesAreRefusedWithTheirName(@TempDir Path dir) throws Exception {
        byte[] png = Png.encode(4, 4, randomRgb(4, 4, 6), Map.of("parameters", "x"));
        png[43] ^= 0x55; // inside the tEXt chunk's data: its CRC no longer matches
        Path file = dir.resolve("bad.png");
        Files.write(file, png);
        assertThatThrownBy(() -> Png.read(file))
                .isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith(file.toString())
                .hasMessageContaining("CRC");

        Path notPng = dir.resolve("text.png");
        Files.writeString(notPng, "hello");
        assertThatThrownBy(() -> Png.read(notPng)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("not a PNG");
        assertThatThrownBy(() -> Png.read(dir.resolve("none.png"))).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("no such file");
    }
}
