package io.jdiffusion.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.TensorFile;
import io.jdiffusion.model.vae.Taesd;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * TAESD weights as users have them, onto {@link Taesd}'s (diffusers') names:
 * <ul>
 *   <li>a diffusers AutoencoderTiny folder ({@code madebyollin/taesd}, {@code madebyollin/taesdxl}: config.json +
 *       diffusion_pytorch_model.safetensors, tensors {@code encoder.layers.*}, {@code decoder.layers.*}), or that
 *       weights file alone;</li>
 *   <li>the original single files ({@code taesd_decoder.safetensors}, {@code taesdxl_encoder.pth}, ...), one per
 *       half, whose names are the bare {@code nn.Sequential} indices: the encoder's as diffusers numbers them, the
 *       decoder's one higher (its index 0 is a parameter-free clamp). Given one half, the other is taken from the
 *       file next to it with "encoder" and "decoder" swapped in its name, when there is one.</li>
 * </ul>
 */
public final class TaesdLoader {
    /** The Hub repositories of the TAESDs for SD 1.x/2.x and for SDXL (diffusers layout). */
    public static final String HUB_SD = "madebyollin/taesd", HUB_SDXL = "madebyollin/taesdxl";

    private static final Pattern ORIGINAL_NAME = Pattern.compile("(\\d+)\\.(.+)");
    private static final String CLASS_NAME = "AutoencoderTiny";

    private TaesdLoader() {
    }

    /** The Hub repository of the TAESD trained for this family's VAE latent space. */
    public static String hubRepo(ModelFamily family) {
        return family == ModelFamily.SDXL ? HUB_SDXL : HUB_SD;
    }

    /**
     * Whether {@code path} holds a TAESD rather than a KL VAE: a folder whose config.json names AutoencoderTiny
     * (or, without config.json, holding one original decoder file), or a weights file with TAESD's tensor names.
     * Reads only names; false for anything unreadable (the VAE loader then says what is wrong with it).
     */
    public static boolean isTaesd(Path path) {
        try {
            if (Files.isDirectory(path)) {
                Path config = path.resolve("config.json");
                if (Files.isRegularFile(config)) return CLASS_NAME.equals(Json.textOr(Json.read(config), "_class_name", ""));
                return originalDecoderIn(path) != null;
            }
            if (!Files.isRegularFile(path) || !TensorFile.looksLikeWeights(path)) return false;
            return layout(names(TensorFile.open(path))) != Layout.NONE;
        } catch (JDiffusionException | java.io.UncheckedIOException e) {
            return false; // not readable as a TAESD: the VAE loader says what is wrong with it
        }
    }

    /** The TAESD at {@code path} (folder or file), under the name {@link #displayName(Path)} gives it. */
    public static Taesd load(Path path) {
        if (!Files.exists(path)) throw new JDiffusionException(path + ": no such file or directory");
        if (Files.isDirectory(path)) {
            Path config = path.resolve("config.json");
            if (Files.isRegularFile(config)) return fromDiffusersFolder(path, config);
            Path decoder = originalDecoderIn(path);
            if (decoder == null) {
                throw new JDiffusionException(path + ": not a TAESD folder (no config.json, and not exactly one *decoder* weights file)");
            }
            return fromFile(decoder, displayName(path));
        }
        return fromFile(path, displayName(path));
    }

    /**
     * What the infotext calls it, as A1111 names a VAE: the file's name, the folder's name, or for a Hub
     * snapshot in the cache ({@code models--owner--name/snapshots/<commit>}) the repository's name.
     */
    public static String displayName(Path path) {
        Path abs = path.toAbsolutePath().normalize();
        Path parent = abs.getParent(), grandParent = parent == null ? null : parent.getParent();
        if (parent != null && grandParent != null && parent.getFileName().toString().equals("snapshots")
                && grandParent.getFileName() != null && grandParent.getFileName().toString().startsWith("models--")) {
            String repo = grandParent.getFileName().toString();
            return repo.substring(repo.lastIndexOf("--") + 2);
        }
        return abs.getFileName() == null ? path.toString() : abs.getFileName().toString();
    }

    private static Taesd fromDiffusersFolder(Path folder, Path configFile) {
        JsonNode config = Json.read(configFile);
        String className = Json.textOr(config, "_class_name", CLASS_NAME);
        if (!className.equals(CLASS_NAME)) {
            throw new JDiffusionException(configFile + ": a " + className + ", not a TAESD (" + CLASS_NAME + ")");
        }
        requireSetting(configFile, config, "act_fn", "relu");
        requireSetting(configFile, config, "upsample_fn", "nearest");
        if (Json.intOr(config, "upsampling_scaling_factor", 2) != 2) {
            throw new JDiffusionException(configFile + ": upsampling_scaling_factor " + config.get("upsampling_scaling_factor")
                    + " is not supported (only 2)");
        }
        if (Json.doubleOr(config, "scaling_factor", 1.0) != 1.0 || Json.doubleOr(config, "shift_factor", 0.0) != 0.0) {
            throw new JDiffusionException(configFile + ": a TAESD with a latent scaling_factor/shift_factor is for other models;"
                    + " only those working on Stable Diffusion's latents as they are (scaling 1, shift 0) are supported");
        }
        TensorFile file = ModelLoader.componentWeights(folder, "diffusion_pytorch_model");
        Taesd taesd = new Taesd(diffusersWeights(file), displayName(folder));
        int latent = Json.intOr(config, "latent_channels", taesd.latentChannels());
        if (latent != taesd.latentChannels()) {
            throw new JDiffusionException(configFile + ": latent_channels " + latent + ", but the weights have " + taesd.latentChannels());
        }
        return taesd;
    }

    /** Which of the supported layouts a file's tensor names are in. */
    private enum Layout { NONE, DIFFUSERS, ORIGINAL_ENCODER, ORIGINAL_DECODER }

    private static Layout layout(Set<String> names) {
        if (names.isEmpty()) return Layout.NONE;
        if (names.stream().allMatch(n -> n.startsWith("encoder.layers.") || n.startsWith("decoder.layers."))) return Layout.DIFFUSERS;
        if (!names.stream().allMatch(n -> ORIGINAL_NAME.matcher(n).matches())) return Layout.NONE;
        if (names.stream().noneMatch(n -> n.matches("\\d+\\.conv\\.0\\.weight"))) return Layout.NONE; // no TAESD block
        if (names.contains("0.weight")) return Layout.ORIGINAL_ENCODER;
        if (names.contains("1.weight")) return Layout.ORIGINAL_DECODER; // index 0 is the clamp
        return Layout.NONE;
    }

    private static Taesd fromFile(Path path, String name) {
        TensorFile file = TensorFile.open(path);
        return switch (layout(names(file))) {
            case DIFFUSERS -> new Taesd(diffusersWeights(file), name);
            case ORIGINAL_DECODER -> {
                TensorFile encoder = partner(path, "decoder", "encoder", Layout.ORIGINAL_ENCODER);
                yield original(file, encoder, name);
            }
            case ORIGINAL_ENCODER -> {
                TensorFile decoder = partner(path, "encoder", "decoder", Layout.ORIGINAL_DECODER);
                if (decoder == null) {
                    throw new JDiffusionException(path + ": a TAESD encoder only; its decoder (the same name with 'decoder') is not next to it");
                }
                yield original(decoder, file, name);
            }
            case NONE -> throw new JDiffusionException(path + ": not a TAESD (neither encoder.layers/decoder.layers tensors"
                    + " nor the numbered layers of taesd_encoder/taesd_decoder)");
        };
    }

    /** The original files' halves (the encoder may be null) under diffusers' names: the decoder's indices one lower. */
    private static Taesd original(TensorFile decoder, TensorFile encoder, String name) {
        Map<String, Weight> all = originalHalf(decoder, "decoder.layers.", -1);
        if (encoder != null) all.putAll(originalHalf(encoder, "encoder.layers.", 0));
        String source = decoder.path() + (encoder == null ? "" : " (with " + encoder.path().getFileName() + ")");
        try {
            return new Taesd(new Weights(all, source), name);
        } catch (JDiffusionException e) {
            throw new JDiffusionException(e.getMessage() + " (diffusers' names: the original decoder file numbers its layers one higher)", e);
        }
    }

    private static Weights diffusersWeights(TensorFile file) {
        requireReadable(file);
        return new Weights(file.tensors(), file.path().toString());
    }

    /** An original file's tensors under {@code prefix} with each layer index moved by {@code shift}. */
    private static Map<String, Weight> originalHalf(TensorFile file, String prefix, int shift) {
        requireReadable(file);
        Map<String, Weight> out = new TreeMap<>();
        for (var e : file.tensors().entrySet()) {
            Matcher m = ORIGINAL_NAME.matcher(e.getKey());
            if (!m.matches() || Integer.parseInt(m.group(1)) + shift < 0) {
                throw new JDiffusionException(file.path() + ": unexpected tensor '" + e.getKey() + "' in a TAESD file");
            }
            out.put(prefix + (Integer.parseInt(m.group(1)) + shift) + "." + m.group(2), e.getValue());
        }
        return out;
    }

    /** The other half's file: this name with {@code from} replaced by {@code to}, in that layout; null when there is none. */
    private static TensorFile partner(Path path, String from, String to, Layout expected) {
        String name = path.getFileName().toString();
        int at = name.toLowerCase(Locale.ROOT).lastIndexOf(from);
        if (at < 0) return null;
        Path other = path.resolveSibling(name.substring(0, at) + to + name.substring(at + from.length()));
        if (!Files.isRegularFile(other)) return null;
        TensorFile file = TensorFile.open(other);
        if (layout(names(file)) != expected) throw new JDiffusionException(other + ": not the TAESD " + to + " that " + path + " needs");
        return file;
    }

    /** The single original decoder file in a folder without config.json, or null. */
    private static Path originalDecoderIn(Path folder) {
        List<Path> decoders;
        try (Stream<Path> files = Files.list(folder)) {
            decoders = files.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).contains("decoder"))
                    .filter(Files::isRegularFile).filter(TensorFile::looksLikeWeights)
                    .filter(p -> layout(names(TensorFile.open(p))) == Layout.ORIGINAL_DECODER).toList();
        } catch (IOException e) {
            throw new JDiffusionException(folder + ": cannot list (" + e.getMessage() + ")");
        }
        return decoders.size() == 1 ? decoders.getFirst() : null;
    }

    private static Set<String> names(TensorFile file) {
        Set<String> names = new TreeSet<>(file.tensors().keySet());
        names.addAll(file.unreadable().keySet());
        return names;
    }

    private static void requireReadable(TensorFile file) {
        for (String name : file.unreadable().keySet()) file.get(name); // throws, naming the tensor and its dtype
    }

    private static void requireSetting(Path configFile, JsonNode config, String key, String supported) {
        String value = Json.textOr(config, key, supported);
        if (!value.equals(supported)) {
            throw new JDiffusionException(configFile + ": " + key + " '" + value + "' is not supported (only '" + supported + "')");
        }
    }
}
