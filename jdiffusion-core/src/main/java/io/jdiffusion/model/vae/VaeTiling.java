package io.jdiffusion.model.vae;

import io.jdiffusion.JDiffusionException;

/**
 * Tiled VAE decoding, to bound the memory of large decodes. The decoder's head (conv_in, the mid block
 * with its attention, and the up blocks at the latents' resolution and twice it) runs on the whole image:
 * its feature maps are small, and the attention is global. Its tail, where the feature maps are large
 * (at 512×512, 256 channels × 512² floats = 268 MB each), runs on overlapping square tiles of
 * {@code tile} latent pixels that share at least {@code overlap} latent pixels with each neighbour, so the
 * tail's full-resolution maps exist for one tile at a time: their memory shrinks to about
 * (tile / size)², for about tiles · tile² / size² times the tail's work.
 *
 * <p>Blending: each decoded tile is weighted by a "feather" that is 1 inside and falls linearly towards 0
 * across the band it shares with a neighbour (only on sides that have one); the image is the weighted
 * sum of the tiles divided by the sum of the weights. Where two tiles share a band their ramps are
 * complementary, so this is a linear cross-fade from one tile to the next: no seam at a tile border,
 * where a tile's zero padding makes it least like the untiled decode. Tiles are placed evenly, the first
 * at 0 and the last ending at the edge.
 *
 * <p>A tiled decode is not the same function as the untiled one: each GroupNorm of the tail normalises
 * with statistics of its tile instead of the whole image, which shifts the tones slightly from tile to
 * tile (the cross-fade hides the boundaries, not the shift). Latents that fit in one tile are decoded
 * exactly as without tiling.
 *
 * @param tile    tile side in latent pixels (8 image pixels each for SD)
 * @param overlap the least overlap between neighbouring tiles, in latent pixels, at most half a tile
 */
public record VaeTiling(int tile, int overlap) {
    /**
     * 40 latent pixels (320 image pixels) per tile, at least 8 (64 px) shared: a 512² image takes 2×2 tiles
     * (overlapping by 128 px) for 1.6× the tail's work, a 1024² image 4×4 tiles, each a tenth of the image.
     */
    public static final VaeTiling DEFAULT = new VaeTiling(40, 8);

    public VaeTiling {
        if (tile < 1) throw new JDiffusionException("VAE tiling: tile size " + tile + " must be at least 1");
        if (overlap < 0 || 2 * overlap > tile) {
            throw new JDiffusionException("VAE tiling: overlap " + overlap + " must be between 0 and half the tile size " + tile);
        }
    }

    /** Where the tiles start along an axis of {@code size} latent pixels: evenly spread, first 0, last size − tile. */
    int[] starts(int size) {
        if (size <= tile) return new int[]{0};
        int stride = tile - overlap;
        int count = (size - overlap + stride - 1) / stride; // ceil((size − overlap) / stride)
        count = Math.max(count, 2);
        int[] starts = new int[count];
        for (int i = 0; i < count; i++) starts[i] = (int) Math.round((double) i * (size - tile) / (count - 1));
        return starts;
    }

    /**
     * The feather of tile {@code i} along an axis, in image pixels: {@code length} values, 1 inside, ramping
     * linearly (never to 0 itself) across the bands it shares with the tiles before and after it.
     *
     * @param starts tile starts in image pixels; @param length tile length in image pixels; @param size axis size
     */
    static float[] feather(int[] starts, int i, int length, int size) {
        int begin = starts[i], end = Math.min(size, begin + length);
        int n = end - begin;
        int before = i > 0 ? Math.max(0, Math.min(size, starts[i - 1] + length) - begin) : 0;
        int after = i < starts.length - 1 ? Math.max(0, end - starts[i + 1]) : 0;
        float[] w = new float[n];
        for (int p = 0; p < n; p++) {
            float v = 1f;
            if (before > 0) v = Math.min(v, (p + 0.5f) / before);
            if (after > 0) v = Math.min(v, (n - p - 0.5f) / after);
            w[p] = v;
        }
        return w;
    }
}
