package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.tensor.Tensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * An 8-bit RGB picture given to a pipeline (init image, mask): row by row, R G B per pixel.
 * Masks are read as RGB too; {@link #luminance()} turns them into one channel.
 */
public record RgbImage(int width, int height, byte[] rgb) {
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G'};

    public RgbImage {
        if (width < 1 || height < 1 || rgb.length != width * height * 3) {
            throw new IllegalArgumentException(rgb.length + " bytes for a " + width + "x" + height + " RGB image");
        }
    }

    /**
     * Reads a PNG (any colour type and depth; alpha dropped) or whatever else the JDK decodes (JPEG, BMP,
     * GIF). {@code what} names the file in errors, such as {@code --init-image}.
     */
    public static RgbImage read(Path file, String what) {
        if (Files.isDirectory(file)) throw new JDiffusionException(what + ": " + file + ": is a directory, not an image");
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new JDiffusionException(what + ": " + file + ": no such file");
        } catch (AccessDeniedException e) {
            throw new JDiffusionException(what + ": " + file + ": not readable");
        } catch (IOException e) {
            throw new JDiffusionException(what + ": " + file + ": cannot read (" + e.getMessage() + ")");
        }
        if (bytes.length >= 4 && java.util.Arrays.equals(bytes, 0, 4, PNG_SIGNATURE, 0, 4)) {
            try {
                Png.Image png = Png.decode(bytes, file.toString());
                return new RgbImage(png.width(), png.height(), png.rgb());
            } catch (JDiffusionException e) {
                throw new JDiffusionException(what + ": " + e.getMessage());
            }
        }
        BufferedImage img;
        try {
            img = ImageIO.read(new ByteArrayInputStream(bytes));
        } catch (IOException | RuntimeException e) {
            img = null;
        }
        if (img == null) {
            throw new JDiffusionException(what + ": " + file + ": not an image this program reads (PNG, JPEG, BMP or GIF)");
        }
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
        return new RgbImage(w, h, rgb);
    }

    /** A single-colour image. */
    public static RgbImage filled(int width, int height, int r, int g, int b) {
        byte[] rgb = new byte[width * height * 3];
        for (int i = 0; i < rgb.length; i += 3) {
            rgb[i] = (byte) r;
            rgb[i + 1] = (byte) g;
            rgb[i + 2] = (byte) b;
        }
        return new RgbImage(width, height, rgb);
    }

    /** A gray image from one channel (each value repeated in R, G and B). */
    public static RgbImage gray(int width, int height, byte[] values) {
        byte[] rgb = new byte[width * height * 3];
        for (int i = 0; i < values.length; i++) {
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = values[i];
        }
        return new RgbImage(width, height, rgb);
    }

    /** Channel c (0 = R) of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xff;
    }

    /**
     * One channel as PIL's {@code convert("L")} computes it: (19595·R + 38470·G + 7471·B + 2^15) >> 16, the
     * ITU-R 601 weights in 16-bit fixed point; a gray image keeps its values exactly.
     */
    public byte[] luminance() {
        byte[] out = new byte[width * height];
        for (int i = 0; i < out.length; i++) {
            int r = rgb[3 * i] & 0xff, g = rgb[3 * i + 1] & 0xff, b = rgb[3 * i + 2] & 0xff;
            out[i] = (byte) ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
        }
        return out;
    }

    /**
     * [1, 3, H, W] in [-1, 1], as diffusers' image processor prepares a picture for the VAE: each byte
     * divided by 255 in float32, then 2x − 1.
     */
    public Tensor toTensor() {
        int plane = width * height;
        float[] out = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                float v = (rgb[3 * i + c] & 0xff) / 255f;
                out[c * plane + i] = 2f * v - 1f;
            }
        }
        return new Tensor(out, 1, 3, height, width);
    }

    public String sizeString() {
        return width + "x" + height;
    }
}
