package io.jdiffusion.watermark;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;

/**
 * What an image says about one message: the bits read with the message's length and how many of them
 * agree with it. The reader cannot fail: it reads some bits from any image, and on smooth or flat images
 * even freshly marked ones lose a few bits. So besides "every bit matches" there is a second, weaker
 * verdict: the agreement is too good to be chance, judged by the probability that bits read from an
 * unmarked image (taken as fair coin flips) would agree at least this well.
 *
 * @param read     the bits read, as many as the message has
 * @param matching how many of them equal the message's
 * @param chance   P(at least {@code matching} of {@code length} fair coin flips agree with the message)
 */
public record WatermarkCheck(WatermarkMessage message, boolean[] read, int matching, double chance) {
    /** Below this chance a partial match is called {@link Verdict#LIKELY}. */
    public static final double LIKELY_CHANCE = 1e-5;

    public enum Verdict { FOUND, LIKELY, NOT_FOUND }

    public static WatermarkCheck of(WatermarkMessage message, boolean[] read) {
        int matching = message.matchingBits(read);
        return new WatermarkCheck(message, read.clone(), matching, chanceOfAtLeast(matching, read.length));
    }

    /** Reads the message's length from an 8-bit RGB image and compares. */
    public static WatermarkCheck of(WatermarkMessage message, byte[] rgb, int width, int height) {
        return of(message, DwtDctWatermark.readRgb8(rgb, width, height, message.length()));
    }

    public Verdict verdict() {
        if (matching == read.length) return Verdict.FOUND;
        return chance < LIKELY_CHANCE ? Verdict.LIKELY : Verdict.NOT_FOUND;
    }

    /** The probability that at least {@code k} of {@code n} fair coin flips come up heads, exactly summed. */
    static double chanceOfAtLeast(int k, int n) {
        BigInteger ways = BigInteger.ZERO, choose = BigInteger.ONE; // choose = C(n, i)
        for (int i = 0; i <= n; i++) {
            if (i >= k) ways = ways.add(choose);
            choose = choose.multiply(BigInteger.valueOf(n - i)).divide(BigInteger.valueOf(i + 1));
        }
        return new BigDecimal(ways).divide(new BigDecimal(BigInteger.ONE.shiftLeft(n)), MathContext.DECIMAL64).doubleValue();
    }
}
