package io.jdiffusion.model;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.TensorFile;
import io.jdiffusion.tensor.Weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

/**
 * A VAE on its own, to replace a model's ({@code --vae}): an original-layout file as Stability AI publishes
 * them ({@code vae-ft-mse-840000-ema-pruned.safetensors}: {@code encoder.down.*}, {@code decoder.up.*},
 * {@code quant_conv.*}, optionally under {@code first_stage_model.}), a diffusers AutoencoderKL weights file
 * ({@code encoder.down_blocks.*}), or a diffusers {@code vae} folder (config.json + weights). Safetensors or
 * PyTorch checkpoints alike.
 *
 * <p>A file carries no config: its architecture is inferred from the weights and the latent scaling is
 * the model's own (as A1111 swaps VAEs). A diffusers folder's config.json is used as it is, scaling factor
 * included, as diffusers does when a pipeline is given another AutoencoderKL.
 */
public final class VaeLoader {
    private VaeLoader() {
    }

    /** The VAE at {@code path}, checked to fit {@code model} (same latent channels), and the model with it. */
    public static StableDiffusionModel swap(StableDiffusionModel model, Path path) {
        if (path == null) return model;
        if (!Files.exists(path)) throw new JDiffusionException("--vae: " + path + ": no such file or directory");
        VaeConfig current = model.vaeConfig();
        VaeConfig config;
        Weights weights;
        if (Files.isDirectory(path)) {
            Path configFile = path.resolve("config.json");
            if (!Files.isRegularFile(configFile)) throw new JDiffusionException(path + ": not a diffusers VAE folder (no config.json)");
            config = VaeConfig.fromDiffusers(Json.read(configFile));
            TensorFile file = ModelLoader.componentWeights(path, "diffusion_pytorch_model");
            weights = ModelLoader.withCurrentVaeAttentionNames(new Weights(file.tensors(), file.path().toString()));
        } else {
            weights = fileWeights(path, model.family());
            VaeConfig inferred = ArchitectureInference.vae(weights, model.family());
            config = new VaeConfig(inferred.inChannels(), inferred.outChannels(), inferred.latentChannels(),
                    inferred.blockOutChannels(), inferred.layersPerBlock(), inferred.normGroups(),
                    current.scalingFactor(), current.shiftFactor(),
                    inferred.useQuantConv(), inferred.usePostQuantConv(), inferred.midBlockAttention());
        }
        RequiredTensors.checkVae(weights, config);
        if (config.latentChannels() != current.latentChannels() || config.inChannels() != current.inChannels()) {
            throw new JDiffusionException(path + ": this VAE has " + config.latentChannels() + " latent channels, the model's has "
                    + current.latentChannels() + ": it belongs to another kind of model");
        }
        return model.withVae(config, weights);
    }

    private static final String CHECKPOINT_PREFIX = "first_stage_model.";

    /** A single VAE file's tensors under the internal (diffusers) names. */
    private static Weights fileWeights(Path path, ModelFamily family) {
        TensorFile file = TensorFile.open(path);
        Set<String> names = new TreeSet<>(file.tensors().keySet());
        names.addAll(file.unreadable().keySet());
        if (names.stream().anyMatch(n -> n.startsWith(SingleFileCheckpoint.UNET))) {
            throw new JDiffusionException(path + ": is a whole checkpoint, not a VAE (use it as --model)");
        }
        String prefix = names.stream().anyMatch(n -> n.startsWith(CHECKPOINT_PREFIX)) ? CHECKPOINT_PREFIX : "";
        Set<String> relative = SingleFileCheckpoint.relative(names, prefix);
        if (relative.stream().anyMatch(n -> n.startsWith("encoder.down_blocks.") || n.startsWith("decoder.up_blocks."))) {
            Weights all = new Weights(file.tensors(), path.toString());
            return ModelLoader.withCurrentVaeAttentionNames(prefix.isEmpty() ? all : all.sub(prefix));
        }
        if (relative.stream().noneMatch(n -> n.startsWith("encoder.down.") || n.startsWith("decoder.up."))) {
            throw new JDiffusionException(path + ": not a VAE (no encoder.down / decoder.up tensors)");
        }
        return SingleFileCheckpoint.convert(file, family, "VAE", prefix, new LdmVaeNames(relative)::map);
    }
}
