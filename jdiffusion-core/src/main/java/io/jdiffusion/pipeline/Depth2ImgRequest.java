package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.tensor.Tensor;

import java.nio.file.Path;

/**
 * One depth-to-image job for the SD 2 depth model: an img2img job whose structure follows a depth map.
 *
 * @param img2img    the init image, strength, output size and generation parameters
 * @param depthMap   relative inverse depth [1, H, W] at any size and scale (larger = nearer), or null to
 *                   estimate it from the init image
 * @param depthModel the DPT estimator's folder for models that carry none (single files), or null for the
 *                   model folder's {@code depth_estimator/}
 */
public record Depth2ImgRequest(Img2ImgRequest img2img, Tensor depthMap, Path depthModel) {

    public Txt2ImgRequest resolvedParams() {
        return img2img.resolvedParams();
    }

    /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value. */
    public Depth2ImgRequest validate() {
        img2img.validate();
        if (depthMap != null && depthMap.numel() != depthMap.dim(-1) * depthMap.dim(-2)) {
            throw new JDiffusionException("--depth-map: expected one grayscale map, got " + depthMap.shapeString());
        }
        return this;
    }
}
