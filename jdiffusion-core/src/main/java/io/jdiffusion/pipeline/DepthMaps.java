package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.dpt.Dpt;
import io.jdiffusion.model.dpt.DptImageProcessor;
import io.jdiffusion.model.dpt.Interpolation;
import io.jdiffusion.tensor.Tensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Depth for the SD 2 depth model: read from a grayscale image or estimated by a DPT model, and turned into the
 * extra UNet input channel as diffusers' depth2img pipeline does it.
 */
public final class DepthMaps {
    private DepthMaps() {
    }

    /**
     * A depth image as [1, H, W] in [0, 1] (larger = nearer): an 8- or 16-bit grayscale image's samples over
     * their maximum (255 or 65535); a colour image's luminance over 255.
     */
    public static Tensor read(Path file, String what) {
        if (!Files.isRegularFile(file)) throw new JDiffusionException(what + ": " + file + ": no such file");
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            img = null;
        }
        if (img == null) throw new JDiffusionException(what + ": " + file + ": not an image this program reads (PNG, JPEG, BMP or GIF)");
        int w = img.getWidth(), h = img.getHeight();
        Raster raster = img.getRaster();
        int bands = raster.getNumBands();
        float[] out = new float[w * h];
        if (bands <= 2 && !(img.getColorModel() instanceof java.awt.image.IndexColorModel)) {
            // gray (+ alpha): the stored samples, read from the raster so no colour conversion touches them
            double max = (1L << raster.getSampleModel().getSampleSize(0)) - 1;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) out[y * w + x] = (float) (raster.getSample(x, y, 0) / max);
            }
        } else {
            RgbImage rgb = RgbImage.read(file, what);
            byte[] l = rgb.luminance();
            for (int i = 0; i < out.length; i++) out[i] = (float) ((l[i] & 0xff) / 255.0);
        }
        return new Tensor(out, 1, h, w);
    }

    /**
     * The UNet's depth channel [1, 1, latentH, latentW]: the depth [1, H, W] (or [H, W]) resized bicubically
     * (torch, a = −0.75, align_corners false) to the latent size, then mapped to [-1, 1] by its own minimum
     * and maximum.
     */
    public static Tensor depthMask(Tensor depth, int latentHeight, int latentWidth) {
        int h = depth.dim(-2), w = depth.dim(-1);
        if (depth.numel() != h * w) throw new JDiffusionException("depth map: expected one map [1, H, W], got " + depth.shapeString());
        Tensor resized = Interpolation.bicubic(depth.reshape(1, 1, h, w), latentHeight, latentWidth, false);
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (float v : resized.data) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        if (!(max > min)) throw new JDiffusionException("depth map: it is flat (every value " + min + "), so it carries no depth");
        float[] out = new float[resized.numel()];
        for (int i = 0; i < out.length; i++) out[i] = 2f * (resized.data[i] - min) / (max - min) - 1f;
        return new Tensor(out, 1, 1, latentHeight, latentWidth);
    }

    /** The DPT processor's pixel values [1, 3, h, w] for a picture: Pillow resize, rescale, normalise. */
    public static Tensor pixelValues(RgbImage image, DptImageProcessor processor) {
        int[] size = processor.outputSize(image.height(), image.width());
        int h = size[0], w = size[1];
        byte[] rgb = image.height() == h && image.width() == w ? image.rgb()
                : ImageResize.bicubic(image.rgb(), 3, image.width(), image.height(), w, h);
        int plane = h * w;
        float[] out = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                // rescaled in double and stored as float32, normalised in float32, as the processor's numpy code does
                float v = rgb[3 * i + c] & 0xff;
                if (processor.rescale()) v = (float) (v * processor.rescaleFactor());
                if (processor.normalize()) v = (v - processor.mean()[c]) / processor.std()[c];
                out[c * plane + i] = v;
            }
        }
        return new Tensor(out, 1, 3, h, w);
    }

    /** A depth estimator and the preprocessing its pixel values need. */
    public record Estimator(Dpt model, DptImageProcessor processor) {
        /** Relative inverse depth [1, h, w] of the picture, at the processor's size. */
        public Tensor estimate(RgbImage image) {
            return model.predictDepth(pixelValues(image, processor));
        }

        /**
         * A transformers DPT folder ({@code config.json}, {@code model.safetensors}, {@code
         * preprocessor_config.json}), or a diffusers depth model folder (or its {@code depth_estimator/}) with
         * the processor in {@code feature_extractor/}.
         */
        public static Estimator load(Path dir, String what) {
            if (!Files.isDirectory(dir)) throw new JDiffusionException(what + ": " + dir + ": not a directory");
            Path modelDir = Files.isDirectory(dir.resolve("depth_estimator")) ? dir.resolve("depth_estimator") : dir;
            Path processor = null;
            for (Path p : new Path[]{dir.resolve("feature_extractor/preprocessor_config.json"),
                    modelDir.resolve("preprocessor_config.json"), modelDir.resolveSibling("feature_extractor/preprocessor_config.json")}) {
                if (Files.isRegularFile(p)) {
                    processor = p;
                    break;
                }
            }
            if (!Files.isRegularFile(modelDir.resolve("config.json"))) {
                throw new JDiffusionException(what + ": " + dir + ": no DPT depth estimator (config.json or depth_estimator/)");
            }
            if (processor == null) throw new JDiffusionException(what + ": " + dir + ": no preprocessor_config.json for the depth estimator");
            return new Estimator(Dpt.load(modelDir), DptImageProcessor.read(processor));
        }
    }
}
