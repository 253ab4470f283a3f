package io.jdiffusion.model.dpt;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.Json;

import java.nio.file.Path;

/**
 * A transformers {@code DPTImageProcessor} (preprocessor_config.json): how a picture becomes pixel values —
 * resized (Pillow's resample filter {@code resample}; 3 = bicubic) to {@code height} × {@code width},
 * optionally keeping the aspect ratio and rounding to a multiple, scaled by {@code rescaleFactor}, then
 * normalised per channel.
 */
public record DptImageProcessor(boolean resize, int height, int width, boolean keepAspectRatio, int ensureMultipleOf,
                                int resample, boolean rescale, double rescaleFactor, boolean normalize, float[] mean,
                                float[] std) {
    /** Pillow's BICUBIC resample code. */
    public static final int BICUBIC = 3;

    public static DptImageProcessor read(Path file) {
        JsonNode c = Json.read(file);
        JsonNode size = c.get("size");
        int h, w;
        if (size == null || size.isNull()) {
            h = w = 384;
        } else if (size.isInt()) {
            h = w = size.asInt();
        } else if (size.has("height") && size.has("width")) {
            h = size.get("height").asInt();
            w = size.get("width").asInt();
        } else {
            throw new JDiffusionException(file + ": 'size' is neither a number nor {height, width}");
        }
        int resample = Json.intOr(c, "resample", BICUBIC);
        if (resample != BICUBIC) throw new JDiffusionException(file + ": resample " + resample + " is not supported (only 3, bicubic)");
        if (Json.boolOr(c, "do_pad", false)) throw new JDiffusionException(file + ": do_pad is not supported");
        return new DptImageProcessor(Json.boolOr(c, "do_resize", true), h, w, Json.boolOr(c, "keep_aspect_ratio", false),
                Json.intOr(c, "ensure_multiple_of", 1), resample, Json.boolOr(c, "do_rescale", true),
                Json.doubleOr(c, "rescale_factor", 1 / 255.0), Json.boolOr(c, "do_normalize", true),
                floats(c, "image_mean", 0.5f), floats(c, "image_std", 0.5f));
    }

    private static float[] floats(JsonNode c, String key, float dflt) {
        JsonNode v = c.get(key);
        float[] out = {dflt, dflt, dflt};
        if (v != null && v.isArray() && v.size() == 3) {
            for (int i = 0; i < 3; i++) out[i] = (float) v.get(i).asDouble();
        } else if (v != null && v.isNumber()) {
            java.util.Arrays.fill(out, (float) v.asDouble());
        }
        return out;
    }

    /**
     * The {height, width} an image of inHeight × inWidth is resized to: the target size, or with
     * {@code keepAspectRatio} the scale closer to 1 on both sides; each side rounded to a multiple of
     * {@code ensureMultipleOf}.
     */
    public int[] outputSize(int inHeight, int inWidth) {
        if (!resize) return new int[]{inHeight, inWidth};
        double scaleH = (double) height / inHeight, scaleW = (double) width / inWidth;
        if (keepAspectRatio) {
            if (Math.abs(1 - scaleW) < Math.abs(1 - scaleH)) scaleH = scaleW;
            else scaleW = scaleH;
        }
        return new int[]{multiple(scaleH * inHeight), multiple(scaleW * inWidth)};
    }

    private int multiple(double value) {
        // Python's round: halves to even
        return (int) (Math.rint(value / ensureMultipleOf) * ensureMultipleOf);
    }
}
