package io.jdiffusion.watermark;

import io.jdiffusion.io.Png;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

import static io.jdiffusion.watermark.WatermarkCheck.Verdict.NOT_FOUND;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the mark survives, as the README states it: lossless saves, brightness changes and a halving
 * that is undone; not JPEG at usual qualities, resizing, cropping or rotating. Measured on the two
 * fixture images marked with the SD 1.x message (the README's table adds two photos).
 */
class WatermarkRobustnessTest {
    private static final String[] IMAGES = {"watermark/sd1-input.png", "watermark/sdxl-input.png"};
    private static final WatermarkMessage MESSAGE = WatermarkMessage.STABLE_DIFFUSION_V1;

    @Test
    void survivesLosslessSavesBrightnessAndAnUndoneHalving() {
        for (String name : IMAGES) {
            BufferedImage marked = marked(name);
            assertThat(verdict(marked)).as(name).isNotEqualTo(NOT_FOUND);
            assertThat(verdict(brighter(marked, 20))).as(name + " brightness +20").isNotEqualTo(NOT_FOUND);
            assertThat(verdict(scaled(scaled(marked, 0.5), 2))).as(name + " half size and back").isNotEqualTo(NOT_FOUND);
            assertThat(verdict(jpeg(marked, 0.95f))).as(name + " JPEG quality 95").isNotEqualTo(NOT_FOUND);
        }
    }

    @Test
    void isLostToJpegResizingCroppingAndRotation() {
        for (String name : IMAGES) {
            BufferedImage marked = marked(name);
            assertThat(verdict(jpeg(marked, 0.8f))).as(name + " JPEG quality 80").isEqualTo(NOT_FOUND);
            assertThat(verdict(scaled(marked, 0.5))).as(name + " half size").isEqualTo(NOT_FOUND);
            assertThat(verdict(marked.getSubimage(2, 2, marked.getWidth() - 2, marked.getHeight() - 2))).as(name + " crop 2 px").isEqualTo(NOT_FOUND);
            assertThat(verdict(rotated90(marked))).as(name + " rotate 90").isEqualTo(NOT_FOUND);
        }
    }

    private static BufferedImage marked(String fixture) {
        Png.Image img = Png.read(Fixtures.require(fixture));
        return image(DwtDctWatermark.encodeRgb8(img.rgb(), img.width(), img.height(), MESSAGE), img.width(), img.height());
    }

    private static WatermarkCheck.Verdict verdict(BufferedImage img) {
        return WatermarkCheck.of(MESSAGE, rgb(img), img.getWidth(), img.getHeight()).verdict();
    }

    private static BufferedImage image(byte[] rgb, int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < w * h; i++) {
            img.setRGB(i % w, i / w, (rgb[3 * i] & 0xff) << 16 | (rgb[3 * i + 1] & 0xff) << 8 | rgb[3 * i + 2] & 0xff);
        }
        return img;
    }

    private static byte[] rgb(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = img.getRGB(x, y), i = 3 * (y * w + x);
                rgb[i] = (byte) (p >> 16);
                rgb[i + 1] = (byte) (p >> 8);
                rgb[i + 2] = (byte) p;
            }
        }
        return rgb;
    }

    private static BufferedImage brighter(BufferedImage img, int levels) {
        byte[] rgb = rgb(img);
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) Math.min(255, (rgb[i] & 0xff) + levels);
        return image(rgb, img.getWidth(), img.getHeight());
    }

    private static BufferedImage scaled(BufferedImage img, double factor) {
        int w = (int) Math.round(img.getWidth() * factor), h = (int) Math.round(img.getHeight() * factor);
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
        g.drawImage(img, 0, 0, w, h, null);
        g.dispose();
        return out;
    }

    private static BufferedImage rotated90(BufferedImage in) {
        BufferedImage out = new BufferedImage(in.getHeight(), in.getWidth(), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < in.getHeight(); y++) {
            for (int x = 0; x < in.getWidth(); x++) out.setRGB(in.getHeight() - 1 - y, x, in.getRGB(x, y));
        }
        return out;
    }

    /** Through the JDK's JPEG encoder (4:2:0 chroma) and back. */
    private static BufferedImage jpeg(BufferedImage img, float quality) {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam param = writer.getDefaultWriteParam();
        param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        param.setCompressionQuality(quality);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.write(null, new IIOImage(img, null, null), param);
            return ImageIO.read(new ByteArrayInputStream(bytes.toByteArray()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            writer.dispose();
        }
    }
}
