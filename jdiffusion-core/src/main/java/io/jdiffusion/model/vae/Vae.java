package io.jdiffusion.model.vae;

import io.jdiffusion.model.VaeConfig;
import io.jdiffusion.model.unet.Conv2d;
import io.jdiffusion.model.unet.GroupNorm;
import io.jdiffusion.model.unet.Linear;
import io.jdiffusion.model.unet.ResnetBlock2D;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.tensor.Workspace;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Stable Diffusion VAE (diffusers' AutoencoderKL) in float32.
 *
 * <pre>
 * encode: image → encoder.conv_in → encoder.down_blocks.i (resnets, downsamplers.0) → encoder.mid_block
 *         → encoder.conv_norm_out + SiLU → encoder.conv_out → quant_conv → [mean | logvar]
 * decode: latents → post_quant_conv → decoder.conv_in → decoder.mid_block → decoder.up_blocks.i
 *         (resnets, upsamplers.0) → decoder.conv_norm_out + SiLU → decoder.conv_out → image
 * </pre>
 *
 * Latents are the raw ones: scaling by scaling_factor (and shift_factor) is the caller's business. Images
 * are [B, 3, H, W] in [-1, 1]. Batch items are run one at a time, which gives the same numbers and bounds
 * the memory that full-resolution feature maps take.
 */
public final class Vae {
    /** diffusers builds every VAE norm with this eps. */
    private static final double EPS = 1e-6;

    private final VaeConfig config;
    private final Encoder encoder;
    private final Decoder decoder;
    private final Conv2d quantConv;      // null when use_quant_conv is false
    private final Conv2d postQuantConv;  // null when use_post_quant_conv is false
    /**
     * The decoder's feature maps: resnets of one level are the same size, so one decode reuses a few arrays
     * instead of allocating (and zeroing) hundreds of MB per layer; at each larger level it lets the smaller
     * maps go. Emptied after each decode: images are decoded one at a time, far apart.
     */
    private final Workspace workspace = Workspace.forOneCall();

    /** The encoder's diagonal Gaussian over latents; logvar already clamped to [-30, 20]. */
    public record Posterior(Tensor mean, Tensor logvar) {
        /** exp(logvar / 2). */
        public Tensor std() {
            float[] s = new float[logvar.numel()];
            for (int i = 0; i < s.length; i++) s[i] = (float) Math.exp(0.5f * logvar.data[i]);
            return new Tensor(s, logvar.shape);
        }

        /** mean + std · noise, noise being standard normal of the latents' shape. */
        public Tensor sample(Tensor noise) {
            if (noise.numel() != mean.numel()) {
                throw new IllegalArgumentException("noise " + noise + " for a posterior of " + mean);
            }
            Tensor std = std();
            float[] out = new float[mean.numel()];
            for (int i = 0; i < out.length; i++) out[i] = mean.data[i] + std.data[i] * noise.data[i];
            return new Tensor(out, mean.shape);
        }
    }

    public Vae(VaeConfig config, Weights w) {
        this.config = config;
        encoder = new Encoder(w, config);
        decoder = new Decoder(w, config);
        int moments = 2 * config.latentChannels();
        quantConv = config.useQuantConv() ? Conv2d.load(w, "quant_conv", moments, moments, 1) : null;
        postQuantConv = config.usePostQuantConv()
                ? Conv2d.load(w, "post_quant_conv", config.latentChannels(), config.latentChannels(), 1) : null;
    }

    public VaeConfig config() {
        return config;
    }

    /** How many image pixels one latent pixel spans per side (2 per downsampling level: 8 for SD). */
    public int downscaleFactor() {
        return config.downscaleFactor();
    }

    /** latents [B, latent_channels, h, w] (unscaled) → image [B, out_channels, h·f, w·f], about [-1, 1]. */
    public Tensor decode(Tensor latents) {
        return decode(latents, null);
    }

    /** As {@link #decode(Tensor)}, decoding tile by tile when {@code tiling} is not null (see {@link VaeTiling}). */
    public Tensor decode(Tensor latents, VaeTiling tiling) {
        if (latents.rank() != 4 || latents.dim(1) != config.latentChannels()) {
            throw new IllegalArgumentException("VAE latents " + latents + ", expected [B, " + config.latentChannels() + ", h, w]");
        }
        Tensor[] images = new Tensor[latents.dim(0)];
        try {
            for (int b = 0; b < images.length; b++) {
                Tensor z = latents.dim(0) == 1 ? latents : latents.slice0(b, 1);
                boolean oneTile = tiling == null || (z.dim(2) <= tiling.tile() && z.dim(3) <= tiling.tile());
                try (Workspace.Scope call = workspace.enter()) {
                    // the image leaves the call; every other array goes back to the workspace
                    images[b] = (oneTile ? decodeWhole(z) : decodeTiled(z, tiling)).copy();
                }
            }
        } finally {
            workspace.clear();
        }
        return images.length == 1 ? images[0] : Tensor.cat0(images);
    }

    /** One latent image [1, C, h, w] → [1, out, h·f, w·f]. */
    private Tensor decodeWhole(Tensor z) {
        return decoder.forward(postQuantConv != null ? postQuantConv.apply(z) : z);
    }

    /**
     * One latent image decoded tile by tile, the tiles cross-faded over their overlaps (see {@link VaeTiling}):
     * the decoder's head runs on the whole image, its tail (where the feature maps are large) per tile.
     */
    private Tensor decodeTiled(Tensor z, VaeTiling tiling) {
        int h = z.dim(2), w = z.dim(3), f = downscaleFactor();
        Tensor features = decoder.head(postQuantConv != null ? postQuantConv.apply(z) : z);
        int hs = decoder.headScale();
        int[] ys = tiling.starts(h), xs = tiling.starts(w);
        int th = Math.min(h, tiling.tile()), tw = Math.min(w, tiling.tile());
        int outH = h * f, outW = w * f, outC = config.outChannels();
        float[] sum = new float[outC * outH * outW];
        float[] weightSum = new float[outH * outW];
        int[] ysPx = scaled(ys, f), xsPx = scaled(xs, f);
        for (int ty = 0; ty < ys.length; ty++) {
            float[] wy = VaeTiling.feather(ysPx, ty, th * f, outH);
            for (int tx = 0; tx < xs.length; tx++) {
                float[] wx = VaeTiling.feather(xsPx, tx, tw * f, outW);
                Tensor image = decoder.tail(crop(features, ys[ty] * hs, xs[tx] * hs, th * hs, tw * hs));
                int y0 = ysPx[ty], x0 = xsPx[tx], ih = th * f, iw = tw * f;
                for (int y = 0; y < ih; y++) {
                    for (int x = 0; x < iw; x++) {
                        float wgt = wy[y] * wx[x];
                        int o = (y0 + y) * outW + x0 + x;
                        weightSum[o] += wgt;
                        for (int c = 0; c < outC; c++) sum[c * outH * outW + o] += wgt * image.data[(c * ih + y) * iw + x];
                    }
                }
                Workspace.release(image); // the next tile's image takes its array
            }
        }
        for (int c = 0; c < outC; c++) {
            for (int i = 0; i < outH * outW; i++) sum[c * outH * outW + i] /= weightSum[i];
        }
        return new Tensor(sum, 1, outC, outH, outW);
    }

    private static int[] scaled(int[] v, int f) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] * f;
        return out;
    }

    /** x[:, :, y0:y0+th, x0:x0+tw] of a [1, C, h, w] tensor. */
    private static Tensor crop(Tensor z, int y0, int x0, int th, int tw) {
        int ch = z.dim(1), h = z.dim(2), w = z.dim(3);
        float[] out = new float[ch * th * tw];
        for (int c = 0; c < ch; c++) {
            for (int y = 0; y < th; y++) System.arraycopy(z.data, (c * h + y0 + y) * w + x0, out, (c * th + y) * tw, tw);
        }
        return new Tensor(out, 1, ch, th, tw);
    }

    /** image [B, in_channels, H, W] in [-1, 1] → the latent distribution (mean and clamped logvar). */
    public Posterior encode(Tensor image) {
        if (image.rank() != 4 || image.dim(1) != config.inChannels()) {
            throw new IllegalArgumentException("VAE image " + image + ", expected [B, " + config.inChannels() + ", H, W]");
        }
        int batch = image.dim(0), latentCh = config.latentChannels();
        Tensor[] means = new Tensor[batch], logvars = new Tensor[batch];
        for (int b = 0; b < batch; b++) {
            Tensor moments = encoder.forward(batch == 1 ? image : image.slice0(b, 1));
            if (quantConv != null) moments = quantConv.apply(moments);
            // moments [1, 2·latent, h, w]: the first half of the channels is the mean, the second the log-variance
            int half = moments.numel() / 2;
            int h = moments.dim(2), wd = moments.dim(3);
            float[] mean = Arrays.copyOfRange(moments.data, 0, half);
            float[] logvar = Arrays.copyOfRange(moments.data, half, 2 * half);
            for (int i = 0; i < half; i++) logvar[i] = Math.clamp(logvar[i], -30f, 20f);
            means[b] = new Tensor(mean, 1, latentCh, h, wd);
            logvars[b] = new Tensor(logvar, 1, latentCh, h, wd);
        }
        return batch == 1 ? new Posterior(means[0], logvars[0])
                : new Posterior(Tensor.cat0(means), Tensor.cat0(logvars));
    }

    /** The encoder: image → 2·latent_channels moments. */
    private static final class Encoder {
        private final Conv2d convIn;
        private final List<List<ResnetBlock2D>> downResnets = new ArrayList<>();
        private final List<Conv2d> downsamplers = new ArrayList<>();  // null entry for the last level
        private final MidBlock midBlock;
        private final GroupNorm convNormOut;
        private final Conv2d convOut;

        Encoder(Weights w, VaeConfig c) {
            int[] channels = c.blockOutChannels();
            int levels = channels.length, groups = c.normGroups();
            convIn = Conv2d.load(w, "encoder.conv_in", channels[0], c.inChannels(), 1);
            int ch = channels[0];
            for (int i = 0; i < levels; i++) {
                String p = "encoder.down_blocks." + i + ".";
                List<ResnetBlock2D> resnets = new ArrayList<>();
                for (int j = 0; j < c.layersPerBlock(); j++) {
                    resnets.add(new ResnetBlock2D(w, p + "resnets." + j, ch, channels[i], 0, groups, EPS));
                    ch = channels[i];
                }
                downResnets.add(resnets);
                // padding comes separately: (0, 1, 0, 1) before an unpadded stride-2 conv
                downsamplers.add(i < levels - 1 ? Conv2d.load(w, p + "downsamplers.0.conv", ch, ch, 2, 0) : null);
            }
            midBlock = new MidBlock(w, "encoder.mid_block", ch, groups, c.midBlockAttention());
            convNormOut = GroupNorm.load(w, "encoder.conv_norm_out", ch, groups, EPS);
            convOut = Conv2d.load(w, "encoder.conv_out", 2 * c.latentChannels(), ch, 1);
        }

        Tensor forward(Tensor image) {
            Tensor h = convIn.apply(image);
            for (int i = 0; i < downResnets.size(); i++) {
                for (ResnetBlock2D resnet : downResnets.get(i)) h = resnet.forward(h, null);
                Conv2d down = downsamplers.get(i);
                if (down != null) h = down.apply(Ops.pad(h, 0, 1, 0, 1));
            }
            h = midBlock.forward(h);
            return convOut.apply(convNormOut.applySilu(h));
        }
    }

    /** The decoder: latents → image. */
    private static final class Decoder {
        private final Conv2d convIn;
        private final MidBlock midBlock;
        private final List<List<ResnetBlock2D>> upResnets = new ArrayList<>();
        private final List<Conv2d> upsamplers = new ArrayList<>();  // null entry for the last (full-size) block
        private final GroupNorm convNormOut;
        private final Conv2d convOut;

        Decoder(Weights w, VaeConfig c) {
            int[] channels = c.blockOutChannels();
            int levels = channels.length, groups = c.normGroups();
            int ch = channels[levels - 1];
            convIn = Conv2d.load(w, "decoder.conv_in", ch, c.latentChannels(), 1);
            midBlock = new MidBlock(w, "decoder.mid_block", ch, groups, c.midBlockAttention());
            for (int i = 0; i < levels; i++) {
                int out = channels[levels - 1 - i];
                String p = "decoder.up_blocks." + i + ".";
                List<ResnetBlock2D> resnets = new ArrayList<>();
                for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                    resnets.add(new ResnetBlock2D(w, p + "resnets." + j, ch, out, 0, groups, EPS));
                    ch = out;
                }
                upResnets.add(resnets);
                upsamplers.add(i < levels - 1 ? Conv2d.load(w, p + "upsamplers.0.conv", ch, ch, 1) : null);
            }
            convNormOut = GroupNorm.load(w, "decoder.conv_norm_out", ch, groups, EPS);
            convOut = Conv2d.load(w, "decoder.conv_out", c.outChannels(), ch, 1);
        }

        Tensor forward(Tensor z) {
            return tail(head(z));
        }

        /**
         * How many up blocks' resnets the head runs: those at the latents' resolution and at twice it. Their
         * feature maps are small (at most 4× the latent pixels), and with the mid block they hold the
         * decoder's only global operation, the attention, which must see the whole image.
         */
        int headUpBlocks() {
            return Math.min(2, upResnets.size());
        }

        /** The head's output resolution relative to the latents'. */
        int headScale() {
            return 1 << (headUpBlocks() - 1);
        }

        /**
         * conv_in, the mid block and the first up blocks' resnets: latents → a feature map at headScale(). Here
         * and in the tail each map goes back to the workspace as soon as the next is made from it.
         */
        Tensor head(Tensor z) {
            Tensor h = Workspace.replace(z, convIn.apply(z));
            h = Workspace.replace(h, midBlock.forward(h));
            for (int i = 0; i < headUpBlocks(); i++) {
                for (ResnetBlock2D resnet : upResnets.get(i)) h = Workspace.replace(h, resnet.forward(h, null));
                if (i < headUpBlocks() - 1) h = upsample(i, h);
            }
            return h;
        }

        /** The rest, where the feature maps are large: the head's output → image. Local but for its GroupNorms. */
        Tensor tail(Tensor h) {
            h = upsample(headUpBlocks() - 1, h);
            for (int i = headUpBlocks(); i < upResnets.size(); i++) {
                for (ResnetBlock2D resnet : upResnets.get(i)) h = Workspace.replace(h, resnet.forward(h, null));
                h = upsample(i, h);
            }
            Tensor activated = Workspace.replace(h, convNormOut.applySilu(h));
            return Workspace.replace(activated, convOut.apply(activated));
        }

        private Tensor upsample(int block, Tensor h) {
            Conv2d up = upsamplers.get(block);
            if (up == null) return h;
            Tensor larger = Workspace.replace(h, Ops.upsampleNearest2x(h));
            return Workspace.replace(larger, up.apply(larger));
        }
    }

    /** resnets.0 → attentions.0 (when mid_block_add_attention) → resnets.1, without time embedding. */
    private static final class MidBlock {
        private final ResnetBlock2D resnet0, resnet1;
        private final SelfAttention attention;

        MidBlock(Weights w, String prefix, int channels, int groups, boolean withAttention) {
            resnet0 = new ResnetBlock2D(w, prefix + ".resnets.0", channels, channels, 0, groups, EPS);
            attention = withAttention ? new SelfAttention(w, prefix + ".attentions.0", channels, groups) : null;
            resnet1 = new ResnetBlock2D(w, prefix + ".resnets.1", channels, channels, 0, groups, EPS);
        }

        Tensor forward(Tensor x) {
            Tensor h = resnet0.forward(x, null);
            if (attention != null) h = Workspace.replace(h, attention.forward(h));
            return Workspace.replace(h, resnet1.forward(h, null));
        }
    }

    /**
     * Single-head self-attention over the pixels of a feature map: group_norm, then to_q/to_k/to_v and
     * to_out.0 as linear layers over the channels (all with bias; stored [C, C] or, from original-layout
     * files, as 1×1 convolutions), added to the input. diffusers makes the head as wide as the channels, so
     * one head.
     */
    private static final class SelfAttention {
        private final GroupNorm groupNorm;
        private final Linear toQ, toK, toV, toOut;

        SelfAttention(Weights w, String prefix, int channels, int groups) {
            String p = prefix + ".";
            groupNorm = GroupNorm.load(w, p + "group_norm", channels, groups, EPS);
            toQ = Linear.loadLinearOrConv1x1(w, p + "to_q", channels, channels);
            toK = Linear.loadLinearOrConv1x1(w, p + "to_k", channels, channels);
            toV = Linear.loadLinearOrConv1x1(w, p + "to_v", channels, channels);
            toOut = Linear.loadLinearOrConv1x1(w, p + "to_out.0", channels, channels);
        }

        Tensor forward(Tensor x) {
            try (Workspace.Scope scope = Workspace.scope()) {
                Tensor tokens = Ops.toTokens(groupNorm.apply(x));
                Tensor q = toQ.apply(tokens), k = toK.apply(tokens), v = toV.apply(tokens);
                Tensor out = Ops.fromTokens(toOut.apply(Ops.attention(q, k, v, 1, false)), x.dim(2), x.dim(3));
                Ops.addInPlace(out, x);
                return scope.keep(out);
            }
        }
    }
}
