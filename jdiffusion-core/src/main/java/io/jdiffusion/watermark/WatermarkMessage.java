package io.jdiffusion.watermark;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The bits a watermark carries, in the order they are embedded. Bytes become bits most significant
 * first (as numpy's {@code unpackbits} orders them), so the SD 1.x text {@code StableDiffusionV1} is
 * 136 bits and reads back byte for byte.
 */
public final class WatermarkMessage {
    /** What the original SD 1.x/2.x txt2img scripts embed: the UTF-8 bytes of this text. */
    public static final WatermarkMessage STABLE_DIFFUSION_V1 = ofText("StableDiffusionV1");

    /** The 48-bit message diffusers' SDXL pipelines embed (their watermark module writes it as a binary literal). */
    public static final WatermarkMessage SDXL = ofBinary("SDXL", "101100111110110010010000011110111011000110011110");

    private final String name;
    private final boolean[] bits;

    private WatermarkMessage(String name, boolean[] bits) {
        if (bits.length == 0) throw new IllegalArgumentException("a watermark message needs at least one bit");
        this.name = name;
        this.bits = bits;
    }

    /** The UTF-8 bytes of a text, named by the text. */
    public static WatermarkMessage ofText(String text) {
        return ofBytes(text, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Bytes, most significant bit first. */
    public static WatermarkMessage ofBytes(String name, byte[] bytes) {
        boolean[] bits = new boolean[bytes.length * 8];
        for (int i = 0; i < bits.length; i++) bits[i] = ((bytes[i / 8] >> (7 - i % 8)) & 1) != 0;
        return new WatermarkMessage(name, bits);
    }

    /** A string of 0 and 1 digits, first bit first. */
    public static WatermarkMessage ofBinary(String name, String digits) {
        boolean[] bits = new boolean[digits.length()];
        for (int i = 0; i < bits.length; i++) {
            char c = digits.charAt(i);
            if (c != '0' && c != '1') throw new IllegalArgumentException("not a binary digit at " + i + ": " + digits);
            bits[i] = c == '1';
        }
        return new WatermarkMessage(name, bits);
    }

    /** A name for people: the text for text messages, otherwise what the factory was given. */
    public String name() {
        return name;
    }

    public int length() {
        return bits.length;
    }

    public boolean bit(int i) {
        return bits[i];
    }

    public boolean[] bits() {
        return bits.clone();
    }

    /** How many of the read bits equal this message's (the reading must be of this length). */
    public int matchingBits(boolean[] read) {
        if (read.length != bits.length) {
            throw new IllegalArgumentException(read.length + " bits read for a " + bits.length + "-bit message");
        }
        int same = 0;
        for (int i = 0; i < bits.length; i++) if (read[i] == bits[i]) same++;
        return same;
    }

    /** Bits as the digits 0 and 1. */
    public static String binary(boolean[] bits) {
        StringBuilder sb = new StringBuilder(bits.length);
        for (boolean b : bits) sb.append(b ? '1' : '0');
        return sb.toString();
    }

    /** Bits packed into bytes, most significant first; a last partial byte is padded with zeros. */
    public static byte[] pack(boolean[] bits) {
        byte[] bytes = new byte[(bits.length + 7) / 8];
        for (int i = 0; i < bits.length; i++) if (bits[i]) bytes[i / 8] |= (byte) (0x80 >> (i % 8));
        return bytes;
    }

    public static String hex(boolean[] bits) {
        return HexFormat.of().formatHex(pack(bits));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WatermarkMessage m && Arrays.equals(bits, m.bits);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bits);
    }

    @Override
    public String toString() {
        return name + " (" + bits.length + " bits)";
    }
}
