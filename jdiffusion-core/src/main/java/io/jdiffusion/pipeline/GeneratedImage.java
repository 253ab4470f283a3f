package io.jdiffusion.pipeline;

/**
 * One finished image.
 *
 * @param rgb      8-bit pixels, row by row, R G B per pixel (height × width × 3 bytes)
 * @param seed     the seed this image was made with (unsigned 64-bit)
 * @param infotext the A1111 "parameters" text describing how it was made ({@link Infotext})
 */
public record GeneratedImage(int width, int height, byte[] rgb, long seed, String infotext) {
    public GeneratedImage {
        if (rgb.length != width * height * 3) {
            throw new IllegalArgumentException("rgb holds " + rgb.length + " bytes, not " + width + "x" + height + "x3");
        }
    }
}
