package io.jdiffusion.watermark;

/**
 * RGB ↔ YUV exactly as OpenCV's {@code cvtColor} computes {@code COLOR_BGR2YUV} and {@code COLOR_YUV2BGR}
 * (BT.601 with U = 0.492·(B − Y), V = 0.877·(R − Y)), which the watermark library uses on BGR images.
 * Pixels here are RGB; giving each coefficient its colour is all the BGR order amounts to.
 *
 * <p>8-bit images use OpenCV's 14-bit fixed point with rounding, U and V offset by 128. Float images use
 * float32 with fused multiply-adds (OpenCV's vector code) and offset U and V by 0.5, OpenCV's "half" of a
 * float channel: it assumes floats in 0..1, so on 0..255 floats U and V straddle zero.
 */
final class OpenCvYuv {
    private static final int SHIFT = 14;
    private static final int ROUND = 1 << (SHIFT - 1);
    private static final int HALF_8BIT = 128;
    // to Y, U, V (value × 2^14)
    private static final int R2Y = 4899, G2Y = 9617, B2Y = 1868, B2U = 8061, R2V = 14369;
    // from U, V (value × 2^14)
    private static final int U2B = 33292, U2G = -6472, V2G = -9519, V2R = 18678;

    private static final float R2YF = 0.299f, G2YF = 0.587f, B2YF = 0.114f, B2UF = 0.492f, R2VF = 0.877f;
    private static final float U2BF = 2.032f, U2GF = -0.395f, V2GF = -0.581f, V2RF = 1.140f;
    private static final float HALF_FLOAT = 0.5f;

    private OpenCvYuv() {
    }

    /** Interleaved 8-bit RGB → Y, U, V planes (0..255 each). */
    static void rgb8ToYuv(byte[] rgb, int[] y, int[] u, int[] v) {
        for (int i = 0; i < y.length; i++) {
            int r = rgb[3 * i] & 0xff, g = rgb[3 * i + 1] & 0xff, b = rgb[3 * i + 2] & 0xff;
            int luma = (b * B2Y + g * G2Y + r * R2Y + ROUND) >> SHIFT;
            y[i] = luma;
            u[i] = saturate8(((b - luma) * B2U + (HALF_8BIT << SHIFT) + ROUND) >> SHIFT);
            v[i] = saturate8(((r - luma) * R2V + (HALF_8BIT << SHIFT) + ROUND) >> SHIFT);
        }
    }

    /** Y, U, V planes (0..255 each) → interleaved 8-bit RGB. */
    static byte[] yuvToRgb8(int[] y, int[] u, int[] v) {
        byte[] rgb = new byte[y.length * 3];
        for (int i = 0; i < y.length; i++) {
            int du = u[i] - HALF_8BIT, dv = v[i] - HALF_8BIT;
            rgb[3 * i] = (byte) saturate8(y[i] + ((dv * V2R + ROUND) >> SHIFT));
            rgb[3 * i + 1] = (byte) saturate8(y[i] + ((du * U2G + dv * V2G + ROUND) >> SHIFT));
            rgb[3 * i + 2] = (byte) saturate8(y[i] + ((du * U2B + ROUND) >> SHIFT));
        }
        return rgb;
    }

    /** Float R, G, B planes → Y, U, V planes. */
    static void rgbToYuv(float[] r, float[] g, float[] b, float[] y, float[] u, float[] v) {
        for (int i = 0; i < y.length; i++) {
            float luma = Math.fma(b[i], B2YF, Math.fma(g[i], G2YF, r[i] * R2YF));
            y[i] = luma;
            u[i] = Math.fma(b[i] - luma, B2UF, HALF_FLOAT);
            v[i] = Math.fma(r[i] - luma, R2VF, HALF_FLOAT);
        }
    }

    /** Float Y, U, V planes → R, G, B planes (no clamping: OpenCV leaves float values as they come). */
    static void yuvToRgb(float[] y, float[] u, float[] v, float[] r, float[] g, float[] b) {
        for (int i = 0; i < y.length; i++) {
            float du = u[i] - HALF_FLOAT, dv = v[i] - HALF_FLOAT;
            b[i] = Math.fma(du, U2BF, y[i]);
            g[i] = Math.fma(dv, V2GF, Math.fma(du, U2GF, y[i]));
            r[i] = Math.fma(dv, V2RF, y[i]);
        }
    }

    private static int saturate8(int x) {
        return x < 0 ? 0 : Math.min(x, 255);
    }
}
