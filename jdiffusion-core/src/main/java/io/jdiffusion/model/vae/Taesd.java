package io.jdiffusion.model.vae;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.unet.Conv2d;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * TAESD, the tiny autoencoder (madebyollin/taesd; diffusers' AutoencoderTiny): plain 3×3 convolutions, ReLUs
 * and residual blocks, no normalisation and no attention, trained to stand in for a Stable Diffusion VAE at a
 * small fraction of its cost. Each half is one {@code nn.Sequential}; its layers are numbered, and a layer
 * without parameters (ReLU, upsampling) leaves a gap in the numbers:
 *
 * <pre>
 * encoder.layers.0              conv 3×3, image → C (bias)
 * encoder.layers.i              block, or a stride-2 conv 3×3 without bias (one per downsampling)
 * encoder.layers.last           conv 3×3, C → latent channels (bias)
 *
 * decoder.layers.0              conv 3×3, latent channels → C (bias), then decoder.layers.1 = ReLU
 * decoder.layers.i              block, or a gap (2× nearest upsampling) followed by a conv 3×3 without bias
 * decoder.layers.last           conv 3×3, C → image (bias)
 *
 * block = layers.i.conv.0 → ReLU → layers.i.conv.2 → ReLU → layers.i.conv.4 (3×3 convs with bias),
 *         plus layers.i.skip (1×1, no bias; identity when the widths agree), then ReLU of the sum
 * </pre>
 *
 * Names are diffusers' (the loader maps the original single files, whose decoder starts with a parameter-free
 * clamp at index 0, onto them). Every width and layer count comes from the weights.
 *
 * <p>TAESD works in the diffusion model's own latent space: its latents are the VAE's latents already multiplied
 * by the scaling factor (diffusers gives AutoencoderTiny scaling_factor 1.0), so the sampler's latents go in and
 * come out as they are. The decoder first squashes its input softly into [-3, 3] (3·tanh(x/3)), works in [0, 1]
 * image space, and returns [-1, 1]; the encoder takes [-1, 1] and shifts it to [0, 1] first. The encoder is
 * deterministic (no posterior to sample). Either half may be missing (the original files come separately).
 */
public final class Taesd {
    private static final Pattern INDEXED = Pattern.compile("(\\d+)\\.(.+)");

    private final Half encoder; // null without encoder weights
    private final Half decoder; // null without decoder weights
    private final String name;

    /**
     * Weights under {@code encoder.layers.*} and/or {@code decoder.layers.*}.
     *
     * @param name what the user knows it as (for the infotext's "VAE")
     */
    public Taesd(Weights w, String name) {
        this.name = name;
        Layers enc = new Layers(w, "encoder.layers."), dec = new Layers(w, "decoder.layers.");
        if (enc.isEmpty() && dec.isEmpty()) {
            throw new JDiffusionException(w.source() + ": not a TAESD (no encoder.layers / decoder.layers tensors)");
        }
        encoder = enc.isEmpty() ? null : Half.encoder(enc);
        decoder = dec.isEmpty() ? null : Half.decoder(dec);
        if (encoder != null && decoder != null && encoder.outChannels != decoder.inChannels) {
            throw new JDiffusionException(w.source() + ": the TAESD encoder makes " + encoder.outChannels
                    + " latent channels but its decoder takes " + decoder.inChannels);
        }
    }

    /** What the user knows it as (a file or repository name). */
    public String name() {
        return name;
    }

    public boolean canEncode() {
        return encoder != null;
    }

    public boolean canDecode() {
        return decoder != null;
    }

    /** The latent channels (4 for SD 1.x/2.x and SDXL). */
    public int latentChannels() {
        return decoder != null ? decoder.inChannels : encoder.outChannels;
    }

    /** How many image pixels one latent pixel spans per side: 2 per up- (or down-) sampling step, 8 for SD. */
    public int downscaleFactor() {
        return 1 << (decoder != null ? decoder.resolutionSteps : encoder.resolutionSteps);
    }

    /** latents [B, latent, h, w] as the sampler has them → image [B, 3, h·f, w·f], about [-1, 1]. */
    public Tensor decode(Tensor latents) {
        if (decoder == null) throw new JDiffusionException("this TAESD has no decoder weights");
        if (latents.rank() != 4 || latents.dim(1) != decoder.inChannels) {
            throw new IllegalArgumentException("TAESD latents " + latents + ", expected [B, " + decoder.inChannels + ", h, w]");
        }
        return perImage(latents, z -> {
            Tensor x = z.copy();
            // the decoder's soft clamp: 3·tanh(x/3)
            for (int i = 0; i < x.data.length; i++) x.data[i] = (float) (3 * Math.tanh(x.data[i] / 3f));
            Tensor image = decoder.forward(x);
            // [0, 1] → [-1, 1]
            for (int i = 0; i < image.data.length; i++) image.data[i] = image.data[i] * 2f - 1f;
            return image;
        });
    }

    /** image [B, 3, H, W] in [-1, 1] → latents [B, latent, H/f, W/f], ready for the sampler. */
    public Tensor encode(Tensor image) {
        if (encoder == null) throw new JDiffusionException("this TAESD has no encoder weights");
        if (image.rank() != 4 || image.dim(1) != encoder.inChannels) {
            throw new IllegalArgumentException("TAESD image " + image + ", expected [B, " + encoder.inChannels + ", H, W]");
        }
        return perImage(image, img -> {
            Tensor x = img.copy();
            // [-1, 1] → [0, 1]
            for (int i = 0; i < x.data.length; i++) x.data[i] = (x.data[i] + 1f) / 2f;
            return encoder.forward(x);
        });
    }

    /** One batch item at a time: the same numbers, and only one image's feature maps in memory. */
    private static Tensor perImage(Tensor batch, UnaryOperator<Tensor> f) {
        if (batch.dim(0) == 1) return f.apply(batch);
        Tensor[] out = new Tensor[batch.dim(0)];
        for (int b = 0; b < out.length; b++) out[b] = f.apply(batch.slice0(b, 1));
        return Tensor.cat0(out);
    }

    /** One half: its layers in order, and what it maps from and to. */
    private static final class Half {
        final List<UnaryOperator<Tensor>> layers;
        final int inChannels, outChannels, resolutionSteps;

        private Half(List<UnaryOperator<Tensor>> layers, int inChannels, int outChannels, int resolutionSteps) {
            this.layers = layers;
            this.inChannels = inChannels;
            this.outChannels = outChannels;
            this.resolutionSteps = resolutionSteps;
        }

        Tensor forward(Tensor x) {
            for (UnaryOperator<Tensor> layer : layers) x = layer.apply(x);
            return x;
        }

        /**
         * encoder.layers.*: conv_in, then blocks and the bias-free stride-2 convs between them, then conv_out.
         * No gaps: the encoder has no parameter-free layers.
         */
        static Half encoder(Layers w) {
            int last = w.lastIndex();
            List<UnaryOperator<Tensor>> layers = new ArrayList<>();
            int downsamplings = 0;
            Conv2d convIn = w.conv(0, 1, -1);
            int inChannels = convIn.weight().dim(1), channels = convIn.outChannels();
            layers.add(convIn::apply);
            for (int i = 1; i < last; i++) {
                if (w.isBlock(i)) {
                    Block block = new Block(w, i, channels);
                    channels = block.outChannels;
                    layers.add(block::forward);
                } else if (w.isConv(i)) {
                    Conv2d down = w.conv(i, 2, channels);
                    channels = down.outChannels();
                    layers.add(down::apply);
                    downsamplings++;
                } else {
                    throw w.error("layer " + w.prefix() + i + " has no weights (expected a block or a conv)");
                }
            }
            Conv2d convOut = w.conv(last, 1, channels);
            layers.add(convOut::apply);
            return new Half(layers, inChannels, convOut.outChannels(), downsamplings);
        }

        /**
         * decoder.layers.*: conv_in and its ReLU (the gap at 1), then blocks, each later gap a 2× nearest upsampling
         * followed by its bias-free conv, then conv_out.
         */
        static Half decoder(Layers w) {
            int last = w.lastIndex();
            List<UnaryOperator<Tensor>> layers = new ArrayList<>();
            int upsamplings = 0;
            Conv2d convIn = w.conv(0, 1, -1);
            int inChannels = convIn.weight().dim(1), channels = convIn.outChannels();
            layers.add(convIn::apply);
            if (w.hasAny(1)) throw w.error("layer " + w.prefix() + "1 should be the ReLU after conv_in, but has weights");
            layers.add(Taesd::reluInPlace);
            for (int i = 2; i < last; i++) {
                if (w.isBlock(i)) {
                    Block block = new Block(w, i, channels);
                    channels = block.outChannels;
                    layers.add(block::forward);
                } else if (!w.hasAny(i) && w.isConv(i + 1) && i + 1 < last) {
                    layers.add(Ops::upsampleNearest2x);
                    Conv2d conv = w.conv(i + 1, 1, channels);
                    channels = conv.outChannels();
                    layers.add(conv::apply);
                    upsamplings++;
                    i++;
                } else {
                    throw w.error("layer " + w.prefix() + i + " is neither a block nor an upsampling followed by a conv");
                }
            }
            Conv2d convOut = w.conv(last, 1, channels);
            layers.add(convOut::apply);
            return new Half(layers, inChannels, convOut.outChannels(), upsamplings);
        }
    }

    /**
     * layers.i: conv.0 → ReLU → conv.2 → ReLU → conv.4, plus skip (a bias-free 1×1 conv where the widths differ,
     * else the input), then ReLU.
     */
    private static final class Block {
        private final Conv2d conv0, conv2, conv4;
        private final Conv2d skip; // null: identity
        final int outChannels;

        Block(Layers w, int index, int inChannels) {
            w.checkOnly(index, List.of("conv.0.weight", "conv.0.bias", "conv.2.weight", "conv.2.bias", "conv.4.weight",
                    "conv.4.bias", "skip.weight"));
            outChannels = w.weights().get(w.name(index, "conv.0.weight")).dim(0);
            conv0 = Conv2d.load(w.weights(), w.name(index, "conv.0"), outChannels, inChannels, 1);
            conv2 = Conv2d.load(w.weights(), w.name(index, "conv.2"), outChannels, outChannels, 1);
            conv4 = Conv2d.load(w.weights(), w.name(index, "conv.4"), outChannels, outChannels, 1);
            String skipName = w.name(index, "skip.weight");
            if (!w.weights().has(skipName) && inChannels != outChannels) {
                throw w.error("block " + w.prefix() + index + " maps " + inChannels + " to " + outChannels + " channels but has no skip.weight");
            }
            skip = w.weights().has(skipName) ? new Conv2d(w.weights().get(skipName, outChannels, inChannels, 1, 1), null, 1, 0) : null;
        }

        Tensor forward(Tensor x) {
            Tensor h = reluInPlace(conv0.apply(x));
            h = reluInPlace(conv2.apply(h));
            h = conv4.apply(h);
            Ops.addInPlace(h, skip == null ? x : skip.apply(x));
            return reluInPlace(h);
        }
    }

    /** One half's numbered layers: the tensors named {@code <prefix><index>.<rest>}. */
    private record Layers(Weights weights, String prefix) {
        boolean isEmpty() {
            return weights.names().stream().noneMatch(n -> n.startsWith(prefix));
        }

        String name(int index, String rest) {
            return prefix + index + "." + rest;
        }

        boolean hasAny(int index) {
            String p = prefix + index + ".";
            return weights.names().stream().anyMatch(n -> n.startsWith(p));
        }

        boolean isBlock(int index) {
            return weights.has(name(index, "conv.0.weight"));
        }

        boolean isConv(int index) {
            return weights.has(name(index, "weight"));
        }

        /** The highest layer index; refuses names under the prefix that are not {@code <index>.<rest>}. */
        int lastIndex() {
            int last = -1;
            for (String name : weights.names()) {
                if (!name.startsWith(prefix)) continue;
                Matcher m = INDEXED.matcher(name.substring(prefix.length()));
                if (!m.matches()) throw error("unexpected TAESD tensor '" + name + "'");
                last = Math.max(last, Integer.parseInt(m.group(1)));
            }
            if (last < 2) throw error(prefix + "* holds too few layers (" + (last + 1) + ") for a TAESD");
            return last;
        }

        /** layers.i: a conv taking {@code inChannels} (-1: as stored), at this stride, padding k/2, bias when there is one. */
        Conv2d conv(int index, int stride, int inChannels) {
            checkOnly(index, List.of("weight", "bias"));
            String weightName = name(index, "weight"), biasName = name(index, "bias");
            Weight weight = weights.get(weightName);
            if (weight.rank() != 4 || weight.dim(2) != weight.dim(3) || weight.dim(2) % 2 == 0) {
                throw error("tensor '" + weightName + "' has shape " + weight.shapeString()
                        + ", expected a convolution kernel [out, in, k, k] with odd k");
            }
            int out = weight.dim(0), k = weight.dim(2);
            weight = weights.get(weightName, out, inChannels < 0 ? weight.dim(1) : inChannels, k, k);
            Weight bias = weights.has(biasName) ? weights.get(biasName, out) : null;
            return new Conv2d(weight, bias, stride, k / 2);
        }

        /** Refuses tensors of layer i that its kind does not have, so that an unknown variant is refused rather than misread. */
        void checkOnly(int index, List<String> allowed) {
            String p = prefix + index + ".";
            for (String name : weights.names()) {
                if (name.startsWith(p) && !allowed.contains(name.substring(p.length()))) {
                    throw error("unexpected TAESD tensor '" + name + "'");
                }
            }
        }

        JDiffusionException error(String problem) {
            return new JDiffusionException(weights.source() + ": " + problem);
        }
    }

    private static Tensor reluInPlace(Tensor x) {
        float[] d = x.data;
        for (int i = 0; i < d.length; i++) if (d[i] < 0f) d[i] = 0f;
        return x;
    }
}
