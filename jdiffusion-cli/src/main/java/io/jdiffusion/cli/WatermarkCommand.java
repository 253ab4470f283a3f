package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.watermark.DwtDctWatermark;
import io.jdiffusion.watermark.WatermarkCheck;
import io.jdiffusion.watermark.WatermarkMessage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jdiffusion watermark IMAGE}: reads the invisible watermark back and says what it found. */
@Command(name = "watermark", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        sortOptions = false,
        description = {"Read the invisible watermark (invisible-watermark's dwtDct method) of an image and say "
                + "whether it carries the SD 1.x/2.x mark (the bytes StableDiffusionV1) or the SDXL one (48 bits).",
                "A message is 'found' when every bit reads back, 'likely' when the bits agree far better than "
                        + "chance would (smooth images lose a few bits even when freshly marked)."})
final class WatermarkCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "A PNG (or JPEG, BMP) of at least 256x256 pixels in area.")
    Path image;

    @Option(names = "--message", paramLabel = "TEXT", description = "Also check for this text (its UTF-8 bytes).")
    String message;

    @Option(names = "--bits", paramLabel = "N", description = "Also print the N bits read, as bits, hex and text.")
    Integer bits;

    @Override
    public Integer call() {
        if (bits != null && bits < 1) throw new JDiffusionException("--bits: " + bits + " must be at least 1");
        if (message != null && message.isEmpty()) throw new JDiffusionException("--message: must not be empty");
        Png.Image img = readImage(image);
        if (!DwtDctWatermark.fits(img.width(), img.height())) {
            throw new JDiffusionException(image + ": " + img.width() + "x" + img.height() + " is under the "
                    + DwtDctWatermark.MIN_PIXELS + " pixels (256x256) the watermark needs");
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println(image + ": " + img.width() + "x" + img.height());
        List<WatermarkMessage> messages = new ArrayList<>(List.of(WatermarkMessage.STABLE_DIFFUSION_V1, WatermarkMessage.SDXL));
        if (message != null) messages.add(WatermarkMessage.ofText(message));
        for (WatermarkMessage m : messages) {
            WatermarkCheck check = WatermarkCheck.of(m, img.rgb(), img.width(), img.height());
            out.println(describe(check));
        }
        if (bits != null) {
            boolean[] read = DwtDctWatermark.readRgb8(img.rgb(), img.width(), img.height(), bits);
            out.println(bits + " bits read: " + WatermarkMessage.binary(read));
            out.println("  hex " + WatermarkMessage.hex(read) + ", text " + printable(WatermarkMessage.pack(read)));
        }
        out.flush();
        return 0;
    }

    /** "SDXL (48 bits): found, 48 of 48 bits match" and the bits read. */
    static String describe(WatermarkCheck check) {
        WatermarkMessage m = check.message();
        String verdict = switch (check.verdict()) {
            case FOUND -> "found";
            case LIKELY -> "likely present";
            case NOT_FOUND -> "not found";
        };
        StringBuilder sb = new StringBuilder();
        sb.append(m.name()).append(" (").append(m.length()).append(" bits): ").append(verdict).append(", ")
                .append(check.matching()).append(" of ").append(m.length()).append(" bits match");
        if (check.verdict() != WatermarkCheck.Verdict.FOUND) {
            sb.append(String.format(Locale.ROOT, " (an unmarked image matches this well with probability %.2g)", check.chance()));
        }
        sb.append("\n  read: ");
        if (m.length() % 8 == 0 && m.length() > 48) {
            sb.append("hex ").append(WatermarkMessage.hex(check.read())).append(", text ").append(printable(WatermarkMessage.pack(check.read())));
        } else {
            sb.append(WatermarkMessage.binary(check.read()));
        }
        return sb.toString();
    }

    /** Bytes as a quoted string: printable ASCII as it is, anything else as \xNN. */
    static String printable(byte[] bytes) {
        StringBuilder sb = new StringBuilder("\"");
        for (byte b : bytes) {
            int v = b & 0xff;
            if (v >= 0x20 && v < 0x7f && v != '"' && v != '\\') sb.append((char) v);
            else sb.append(String.format(Locale.ROOT, "\\x%02x", v));
        }
        return sb.append('"').toString();
    }

    /** PNG through our reader, anything else ImageIO decodes (JPEG, BMP, GIF) as 8-bit RGB. */
    static Png.Image readImage(Path file) {
        if (!Files.isRegularFile(file)) throw new JDiffusionException(file + ": no such file");
        byte[] head = new byte[8];
        try (InputStream in = Files.newInputStream(file)) {
            if (in.readNBytes(head, 0, 8) == 8 && head[0] == (byte) 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G') {
                return Png.read(file);
            }
            BufferedImage img = ImageIO.read(file.toFile());
            if (img == null) throw new JDiffusionException(file + ": not an image this tool reads (PNG, JPEG, BMP, GIF)");
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
            return new Png.Image(w, h, rgb, java.util.Map.of());
        } catch (IOException e) {
            throw new JDiffusionException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }
}
