package io.jdiffusion.io;

import io.jdiffusion.JDiffusionException;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.Inflater;

/**
 * PNG files: writing 8-bit RGB images with text chunks (the A1111 {@code parameters} infotext), and
 * reading any PNG back as 8-bit RGB plus its text chunks.
 *
 * <p>Writing is done here chunk by chunk (signature, IHDR, text, IDAT, IEND; CRC32 and zlib from the
 * JDK) so the text chunks are exactly what A1111 and PIL write: {@code tEXt} when the text fits in
 * Latin-1, otherwise an uncompressed {@code iTXt} in UTF-8. The file appears atomically: it is written
 * to a temporary file in the target's folder and renamed into place, so an interrupted run never
 * leaves a half-written image.
 *
 * <p>Reading decodes pixels with {@code javax.imageio} (every colour type, bit depth and interlacing)
 * and walks the chunks itself for {@code tEXt}, {@code zTXt} and {@code iTXt}.
 */
public final class Png {
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    private static final int COLOR_TYPE_RGB = 2;

    private Png() {
    }

    /**
     * A decoded image.
     *
     * @param rgb  8-bit pixels, row by row, R G B per pixel (alpha dropped, gray replicated, 16-bit rounded)
     * @param text the text chunks by keyword, in file order
     */
    public record Image(int width, int height, byte[] rgb, Map<String, String> text) {
    }

    /** Writes an 8-bit RGB image (height × width × 3 bytes, row-major) with text chunks, atomically. */
    public static void write(Path target, int width, int height, byte[] rgb, Map<String, String> text) {
        byte[] png = encode(width, height, rgb, text);
        AtomicFiles.write(target, ch -> {
            ByteBuffer buf = ByteBuffer.wrap(png);
            while (buf.hasRemaining()) ch.write(buf);
        });
    }

    /** The bytes of a PNG file for an 8-bit RGB image with text chunks. */
    public static byte[] encode(int width, int height, byte[] rgb, Map<String, String> text) {
        if (width < 1 || height < 1) throw new IllegalArgumentException("image size " + width + "x" + height);
        if (rgb.length != (long) width * height * 3) {
            throw new IllegalArgumentException("rgb holds " + rgb.length + " bytes, not " + width + "x" + height + "x3");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(rgb.length / 2 + 1024);
        out.writeBytes(SIGNATURE);

        ByteBuffer ihdr = ByteBuffer.allocate(13);
        ihdr.putInt(width).putInt(height);
        ihdr.put((byte) 8).put((byte) COLOR_TYPE_RGB);
        ihdr.put((byte) 0).put((byte) 0).put((byte) 0); // deflate, adaptive filtering, no interlace
        writeChunk(out, "IHDR", ihdr.array());

        for (Map.Entry<String, String> e : text.entrySet()) {
            writeTextChunk(out, e.getKey(), e.getValue());
        }
        writeChunk(out, "IDAT", compressScanlines(width, height, rgb));
        writeChunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    /** tEXt when keyword and text are Latin-1 (as PIL writes them), otherwise an uncompressed iTXt in UTF-8. */
    private static void writeTextChunk(OutputStream out, String keyword, String text) {
        byte[] key = latin1(keyword);
        if (key == null || key.length == 0 || key.length > 79 || keyword.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("PNG text keyword must be 1-79 Latin-1 characters: " + keyword);
        }
        byte[] latin1Text = text.indexOf('\0') >= 0 ? null : latin1(text);
        ByteArrayOutputStream data = new ByteArrayOutputStream(key.length + text.length() + 8);
        data.writeBytes(key);
        data.write(0);
        if (latin1Text != null) {
            data.writeBytes(latin1Text);
            writeChunk(out, "tEXt", data.toByteArray());
        } else {
            data.write(0); // compression flag: uncompressed
            data.write(0); // compression method
            data.write(0); // empty language tag
            data.write(0); // empty translated keyword
            data.writeBytes(text.getBytes(StandardCharsets.UTF_8));
            writeChunk(out, "iTXt", data.toByteArray());
        }
    }

    private static byte[] latin1(String s) {
        try {
            ByteBuffer b = StandardCharsets.ISO_8859_1.newEncoder().encode(java.nio.CharBuffer.wrap(s));
            return Arrays.copyOf(b.array(), b.limit());
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static void writeChunk(OutputStream out, String type, byte[] data) {
        byte[] typeBytes = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(typeBytes);
        crc.update(data);
        try {
            out.write(ByteBuffer.allocate(4).putInt(data.length).array());
            out.write(typeBytes);
            out.write(data);
            out.write(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
        } catch (IOException e) {
            throw new IllegalStateException(e); // in-memory stream
        }
    }

    /**
     * Filters every scanline (choosing per row the filter with the smallest sum of absolute byte values,
     * the usual heuristic, which keeps photos small) and deflates them.
     */
    private static byte[] compressScanlines(int width, int height, byte[] rgb) {
        int stride = width * 3;
        byte[] prev = new byte[stride];
        byte[] cur = new byte[stride];
        byte[][] candidates = new byte[5][stride];
        ByteArrayOutputStream compressed = new ByteArrayOutputStream(rgb.length / 2 + 64);
        Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION);
        try (DeflaterOutputStream z = new DeflaterOutputStream(compressed, deflater, 1 << 16)) {
            for (int y = 0; y < height; y++) {
                System.arraycopy(rgb, y * stride, cur, 0, stride);
                int best = 0;
                long bestScore = Long.MAX_VALUE;
                for (int f = 0; f < 5; f++) {
                    long score = filter(f, cur, prev, candidates[f]);
                    if (score < bestScore) {
                        bestScore = score;
                        best = f;
                    }
                }
                z.write(best);
                z.write(candidates[best]);
                byte[] t = prev;
                prev = cur;
                cur = t;
            }
        } catch (IOException e) {
            throw new IllegalStateException(e); // in-memory stream
        } finally {
            deflater.end();
        }
        return compressed.toByteArray();
    }

    /** Applies PNG filter type {@code f} (bpp 3) to one row; returns the sum of |signed byte| of the result. */
    private static long filter(int f, byte[] cur, byte[] prev, byte[] dst) {
        long score = 0;
        for (int i = 0; i < cur.length; i++) {
            int x = cur[i] & 0xff;
            int a = i >= 3 ? cur[i - 3] & 0xff : 0;
            int b = prev[i] & 0xff;
            int c = i >= 3 ? prev[i - 3] & 0xff : 0;
            int predicted = switch (f) {
                case 0 -> 0;
                case 1 -> a;
                case 2 -> b;
                case 3 -> (a + b) >>> 1;
                default -> paeth(a, b, c);
            };
            byte v = (byte) (x - predicted);
            dst[i] = v;
            score += Math.abs(v);
        }
        return score;
    }

    private static int paeth(int a, int b, int c) {
        int p = a + b - c;
        int pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        return pb <= pc ? b : c;
    }

    /** Reads a PNG file: pixels as 8-bit RGB and its text chunks. */
    public static Image read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new JDiffusionException(file + ": no such file");
        } catch (IOException e) {
            throw new JDiffusionException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        return decode(bytes, file.toString());
    }

    /** Decodes PNG bytes; {@code name} is used in error messages. */
    public static Image decode(byte[] png, String name) {
        Map<String, String> text = readTextChunks(png, name);
        BufferedImage img;
        try {
            img = ImageIO.read(new ByteArrayInputStream(png));
        } catch (IOException | RuntimeException e) {
            throw new JDiffusionException(name + ": not a readable PNG image (" + e.getMessage() + ")", e);
        }
        if (img == null) throw new JDiffusionException(name + ": not a readable PNG image");
        return new Image(img.getWidth(), img.getHeight(), toRgb8(img), text);
    }

    /**
     * The image's samples as 8-bit RGB, read from the raster rather than through {@code getRGB}, which
     * would pass gray images through a colour-space conversion and change their values.
     */
    private static byte[] toRgb8(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        Raster raster = img.getRaster();
        ColorModel cm = img.getColorModel();
        byte[] rgb = new byte[w * h * 3];
        if (cm instanceof IndexColorModel icm) {
            for (int y = 0, o = 0; y < h; y++) {
                for (int x = 0; x < w; x++, o += 3) {
                    int index = raster.getSample(x, y, 0);
                    rgb[o] = (byte) icm.getRed(index);
                    rgb[o + 1] = (byte) icm.getGreen(index);
                    rgb[o + 2] = (byte) icm.getBlue(index);
                }
            }
            return rgb;
        }
        int bands = raster.getNumBands();
        boolean gray = bands <= 2;
        int[] pixel = new int[bands];
        int[] max = new int[bands];
        for (int b = 0; b < bands; b++) max[b] = (1 << raster.getSampleModel().getSampleSize(b)) - 1;
        for (int y = 0, o = 0; y < h; y++) {
            for (int x = 0; x < w; x++, o += 3) {
                raster.getPixel(x, y, pixel);
                for (int c = 0; c < 3; c++) {
                    int band = gray ? 0 : c;
                    rgb[o + c] = (byte) to8Bit(pixel[band], max[band]);
                }
            }
        }
        return rgb;
    }

    private static int to8Bit(int sample, int max) {
        if (max == 255) return sample;
        return (int) Math.round(sample * 255.0 / max);
    }

    /** Walks the chunks (checking each CRC) and collects tEXt, zTXt and iTXt by keyword. */
    private static Map<String, String> readTextChunks(byte[] png, String name) {
        if (png.length < SIGNATURE.length || !Arrays.equals(png, 0, SIGNATURE.length, SIGNATURE, 0, SIGNATURE.length)) {
            throw new JDiffusionException(name + ": not a PNG file (bad signature)");
        }
        Map<String, String> text = new LinkedHashMap<>();
        ByteBuffer buf = ByteBuffer.wrap(png);
        buf.position(SIGNATURE.length);
        while (buf.remaining() >= 12) {
            long length = buf.getInt() & 0xffffffffL;
            int typeAt = buf.position();
            String type = new String(png, typeAt, 4, StandardCharsets.ISO_8859_1);
            if (length > buf.remaining() - 8) {
                throw new JDiffusionException(name + ": PNG chunk " + type + " runs past the end of the file");
            }
            int dataAt = typeAt + 4;
            int len = (int) length;
            CRC32 crc = new CRC32();
            crc.update(png, typeAt, 4 + len);
            int storedCrc = ByteBuffer.wrap(png, dataAt + len, 4).getInt();
            if ((int) crc.getValue() != storedCrc) {
                throw new JDiffusionException(name + ": PNG chunk " + type + " has a bad CRC (corrupt file)");
            }
            byte[] data = Arrays.copyOfRange(png, dataAt, dataAt + len);
            switch (type) {
                case "tEXt" -> parseText(data, text);
                case "zTXt" -> parseCompressedText(data, text, name);
                case "iTXt" -> parseInternationalText(data, text, name);
                default -> {
                }
            }
            buf.position(dataAt + len + 4);
            if (type.equals("IEND")) break;
        }
        return Collections.unmodifiableMap(text);
    }

    private static int nul(byte[] data, int from) {
        for (int i = from; i < data.length; i++) if (data[i] == 0) return i;
        return -1;
    }

    private static void parseText(byte[] data, Map<String, String> text) {
        int k = nul(data, 0);
        if (k <= 0) return;
        text.put(new String(data, 0, k, StandardCharsets.ISO_8859_1),
                new String(data, k + 1, data.length - k - 1, StandardCharsets.ISO_8859_1));
    }

    private static void parseCompressedText(byte[] data, Map<String, String> text, String name) {
        int k = nul(data, 0);
        if (k <= 0 || k + 2 > data.length) return;
        byte[] inflated = inflate(Arrays.copyOfRange(data, k + 2, data.length), name);
        text.put(new String(data, 0, k, StandardCharsets.ISO_8859_1), new String(inflated, StandardCharsets.ISO_8859_1));
    }

    private static void parseInternationalText(byte[] data, Map<String, String> text, String name) {
        int k = nul(data, 0);
        if (k <= 0 || k + 3 > data.length) return;
        boolean compressed = data[k + 1] != 0;
        int languageEnd = nul(data, k + 3);
        if (languageEnd < 0) return;
        int translatedEnd = nul(data, languageEnd + 1);
        if (translatedEnd < 0) return;
        byte[] body = Arrays.copyOfRange(data, translatedEnd + 1, data.length);
        if (compressed) body = inflate(body, name);
        text.put(new String(data, 0, k, StandardCharsets.ISO_8859_1), new String(body, StandardCharsets.UTF_8));
    }

    /** More than this from one compressed text chunk is not metadata but a decompression bomb. */
    private static final int MAX_TEXT_BYTES = 64 << 20;

    private static byte[] inflate(byte[] zlib, String name) {
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(zlib);
            ByteArrayOutputStream out = new ByteArrayOutputStream(zlib.length * 4 + 64);
            byte[] chunk = new byte[8192];
            while (!inflater.finished()) {
                int n = inflater.inflate(chunk);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw new JDiffusionException(name + ": truncated compressed PNG text chunk");
                }
                out.write(chunk, 0, n);
                if (out.size() > MAX_TEXT_BYTES) {
                    throw new JDiffusionException(name + ": a compressed PNG text chunk inflates past " + (MAX_TEXT_BYTES >> 20) + " MB");
                }
            }
            return out.toByteArray();
        } catch (DataFormatException e) {
            throw new JDiffusionException(name + ": corrupt compressed PNG text chunk (" + e.getMessage() + ")");
        } finally {
            inflater.end();
        }
    }
}
