package io.jdiffusion.server;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;

/**
 * Images as the API carries them: base64 strings (optionally a {@code data:image/...;base64,} URL,
 * as browsers and some clients send), decoded with their size checked before any pixel is decoded,
 * so a small file that claims a huge image cannot exhaust memory.
 */
final class ImageData {
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private ImageData() {
    }

    /** The bytes of a base64 image field; bad base64 is a 4xx naming the field. */
    static byte[] base64(String field, String value) {
        String s = value.strip();
        if (s.startsWith("data:")) {
            int comma = s.indexOf(',');
            if (comma < 0 || !s.substring(0, comma).endsWith(";base64")) {
                throw ApiException.invalid(field, "a data URL must be base64 (data:image/png;base64,...)");
            }
            s = s.substring(comma + 1);
        }
        s = s.replaceAll("\\s+", "");
        if (s.isEmpty()) throw ApiException.invalid(field, "is empty; expected a base64-encoded image");
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(field, "is not valid base64 (" + e.getMessage() + ")");
        }
    }

    static String toBase64(byte[] bytes) {
        return Base64.getEncoder().encodeToString(bytes);
    }

    /** A PNG with its text chunks (for png-info); anything else is a 4xx naming the field. */
    static Png.Image png(String field, byte[] bytes, long maxPixels) {
        if (bytes.length < 24 || !java.util.Arrays.equals(bytes, 0, 8, PNG_SIGNATURE, 0, 8)) {
            throw ApiException.invalid(field, "is not a PNG image");
        }
        ByteBuffer header = ByteBuffer.wrap(bytes, 16, 8); // IHDR's width and height
        checkSize(field, header.getInt() & 0xffffffffL, header.getInt() & 0xffffffffL, maxPixels);
        try {
            return Png.decode(bytes, field);
        } catch (JDiffusionException e) {
            throw ApiException.invalid(field, "is not a readable PNG image");
        }
    }

    /**
     * Any image javax.imageio reads (PNG, JPEG, BMP, GIF) as 8-bit RGB; PNGs keep their exact
     * samples through {@link Png#decode}.
     */
    static Png.Image rgb(String field, byte[] bytes, long maxPixels) {
        if (bytes.length >= 8 && java.util.Arrays.equals(bytes, 0, 8, PNG_SIGNATURE, 0, 8)) return png(field, bytes, maxPixels);
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) throw ApiException.invalid(field, "is not an image (PNG, JPEG, BMP or GIF)");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                checkSize(field, reader.getWidth(0), reader.getHeight(0), maxPixels);
                BufferedImage img = reader.read(0);
                int w = img.getWidth(), h = img.getHeight();
                byte[] rgb = new byte[w * h * 3];
                for (int y = 0, o = 0; y < h; y++) {
                    for (int x = 0; x < w; x++, o += 3) {
                        int p = img.getRGB(x, y);
                        rgb[o] = (byte) (p >> 16);
                        rgb[o + 1] = (byte) (p >> 8);
                        rgb[o + 2] = (byte) p;
                    }
                }
                return new Png.Image(w, h, rgb, Map.of());
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof ApiException a) throw a;
            throw ApiException.invalid(field, "is not a readable image");
        }
    }

    private static void checkSize(String field, long width, long height, long maxPixels) {
        if (width < 1 || height < 1) throw ApiException.invalid(field, "has no pixels (" + width + "x" + height + ")");
        if (width * height > maxPixels) {
            throw ApiException.invalid(field, "is too large: " + width + "x" + height + " is over the limit of "
                    + maxPixels + " pixels");
        }
    }
}
