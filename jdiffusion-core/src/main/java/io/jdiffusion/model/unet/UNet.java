package io.jdiffusion.model.unet;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.UNetConfig;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.tensor.Workspace;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The Stable Diffusion UNet (diffusers' UNet2DConditionModel) in float32: predicts the noise (or v) of a
 * latent at a timestep, conditioned on the text encoder's hidden states.
 *
 * <pre>
 * timestep → sinusoidal features → time_embedding.linear_1 → SiLU → linear_2 = emb
 *            (+ class_embedding[label], x4 upscaler)  (+ add_embedding, SDXL)
 * sample → conv_in ─┬─ down_blocks.i: (resnets.j → attentions.j) × layers, downsamplers.0 ── skips pushed
 *                   ├─ mid_block: resnets.0 → attentions.0 → resnets.1
 *                   └─ up_blocks.i: (cat skip → resnets.j → attentions.j) × (layers+1), upsamplers.0
 *                      → conv_norm_out + SiLU → conv_out
 * </pre>
 *
 * Every size comes from the {@link UNetConfig} and is checked against the weights when the network is
 * built, so a wrong or damaged checkpoint fails at load with the name of the offending tensor.
 */
public final class UNet {
    /** The timestep features' period base (diffusers' max_period). */
    private static final double MAX_PERIOD = 10000;

    private final UNetConfig config;
    private final int timeProjDim;              // sinusoidal features fed to time_embedding
    private final Linear timeLinear1, timeLinear2;
    private final Linear addLinear1, addLinear2; // SDXL's add_embedding; null otherwise
    private final Weight classEmbedding;        // [num_class_embeds, temb]: the x4 upscaler's noise levels; null otherwise
    private final Conv2d convIn;
    private final List<DownBlock> downBlocks = new ArrayList<>();
    private final ResnetBlock2D midResnet0, midResnet1;
    private final Transformer2D midAttention;   // null for a mid block without attention
    private final List<UpBlock> upBlocks = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final Conv2d convOut;
    private final AttentionInputs attentionInputs;
    /** The feature maps of one call, reused by the next: a step loop allocates none after its first step. */
    private final Workspace workspace = new Workspace();

    /** One resolution level on the way down: resnets, each followed by its transformer when the level has them. */
    private record DownBlock(List<ResnetBlock2D> resnets, List<Transformer2D> attentions, Conv2d downsampler) {
    }

    /** One level on the way up: each resnet first takes one skip connection (concatenated on channels). */
    private record UpBlock(List<ResnetBlock2D> resnets, List<Transformer2D> attentions, Conv2d upsamplerConv) {
    }

    /** SDXL's added conditioning: the pooled text embedding [B, P] and the size/crop ids [B, N]. */
    public record AddedConditioning(Tensor textEmbeds, Tensor timeIds) {
    }

    public UNet(UNetConfig config, Weights w) {
        this(config, w, AttentionInputs.NONE);
    }

    /** The UNet whose attention layers take their keys and values from {@code attentionInputs} (hypernetworks). */
    public UNet(UNetConfig config, Weights w, AttentionInputs attentionInputs) {
        this.config = config;
        this.attentionInputs = attentionInputs;
        int[] channels = config.blockOutChannels();
        int levels = channels.length;
        int groups = config.normGroups();
        double eps = config.normEps();
        requireLength("down_block_types", config.downAttention().length, levels, w);
        requireLength("up_block_types", config.upAttention().length, levels, w);
        requireLength("attention heads", config.headsPerBlock().length, levels, w);
        requireLength("transformer_layers_per_block", config.transformerDepth().length, levels, w);
        requireLength("only_cross_attention", config.onlyCrossAttention().length, levels, w);

        // Timestep embedding: block_out_channels[0] sinusoidal features, widened to the embedding width that
        // the checkpoint stores (4 × block_out_channels[0] in every published model).
        timeProjDim = channels[0];
        int tembDim = w.get("time_embedding.linear_1.weight").dim(0);
        timeLinear1 = Linear.load(w, "time_embedding.linear_1", tembDim, timeProjDim, true);
        timeLinear2 = Linear.load(w, "time_embedding.linear_2", tembDim, tembDim, true);
        if (config.addEmbedType() == null) {
            addLinear1 = addLinear2 = null;
        } else if (config.addEmbedType().equals("text_time")) {
            addLinear1 = Linear.load(w, "add_embedding.linear_1", tembDim, config.projectionClassEmbeddingsInputDim(), true);
            addLinear2 = Linear.load(w, "add_embedding.linear_2", tembDim, tembDim, true);
        } else {
            throw new JDiffusionException(w.source() + ": unsupported addition_embed_type '" + config.addEmbedType() + "'");
        }

        classEmbedding = config.numClassEmbeds() > 0 ? w.get("class_embedding.weight", config.numClassEmbeds(), tembDim) : null;

        convIn = Conv2d.load(w, "conv_in", channels[0], config.inChannels(), 1);

        // The down path pushes one skip per resnet (plus conv_in's output and each downsampler's), the up
        // path pops one per resnet: tracking their channel counts gives every up resnet's input width.
        Deque<Integer> skipChannels = new ArrayDeque<>();
        skipChannels.push(channels[0]);
        int ch = channels[0];
        for (int i = 0; i < levels; i++) {
            String p = "down_blocks." + i + ".";
            List<ResnetBlock2D> resnets = new ArrayList<>();
            List<Transformer2D> attentions = new ArrayList<>();
            for (int j = 0; j < config.layersPerBlock(); j++) {
                resnets.add(new ResnetBlock2D(w, p + "resnets." + j, ch, channels[i], tembDim, groups, eps));
                ch = channels[i];
                if (config.downAttention()[i]) attentions.add(transformer(w, p + "attentions." + j, ch, i, config.onlyCrossAttention()[i]));
                skipChannels.push(ch);
            }
            Conv2d down = null;
            if (i < levels - 1) {
                down = Conv2d.load(w, p + "downsamplers.0.conv", ch, ch, 2);
                skipChannels.push(ch);
            }
            downBlocks.add(new DownBlock(resnets, attentions, down));
        }

        midResnet0 = new ResnetBlock2D(w, "mid_block.resnets.0", ch, ch, tembDim, groups, eps);
        // diffusers' UNetMidBlock2DCrossAttn always self-attends first, whatever only_cross_attention says
        midAttention = config.midAttention() ? transformer(w, "mid_block.attentions.0", ch, levels - 1, false) : null;
        midResnet1 = new ResnetBlock2D(w, "mid_block.resnets.1", ch, ch, tembDim, groups, eps);

        for (int i = 0; i < levels; i++) {
            int level = levels - 1 - i;
            String p = "up_blocks." + i + ".";
            List<ResnetBlock2D> resnets = new ArrayList<>();
            List<Transformer2D> attentions = new ArrayList<>();
            for (int j = 0; j < config.layersPerBlock() + 1; j++) {
                int in = ch + skipChannels.pop();
                resnets.add(new ResnetBlock2D(w, p + "resnets." + j, in, channels[level], tembDim, groups, eps));
                ch = channels[level];
                if (config.upAttention()[i]) {
                    attentions.add(transformer(w, p + "attentions." + j, ch, level, config.onlyCrossAttention()[level]));
                }
            }
            Conv2d upConv = level > 0 ? Conv2d.load(w, p + "upsamplers.0.conv", ch, ch, 1) : null;
            upBlocks.add(new UpBlock(resnets, attentions, upConv));
        }

        convNormOut = GroupNorm.load(w, "conv_norm_out", ch, groups, eps);
        convOut = Conv2d.load(w, "conv_out", config.outChannels(), ch, 1);
    }

    /** The transformer at a resolution level: that level's head count and depth (up blocks mirror the down ones). */
    private Transformer2D transformer(Weights w, String prefix, int channels, int level, boolean onlyCrossAttention) {
        return new Transformer2D(w, prefix, channels, config.headsPerBlock()[level], config.transformerDepth()[level],
                config.crossAttentionDim(), config.useLinearProjection(), config.normGroups(), onlyCrossAttention, attentionInputs);
    }

    private static void requireLength(String what, int actual, int levels, Weights w) {
        if (actual != levels) {
            throw new JDiffusionException(w.source() + ": UNet config gives " + actual + " " + what
                    + " for " + levels + " block_out_channels");
        }
    }

    public UNetConfig config() {
        return config;
    }

    /** Whether {@link #forward(Tensor, double, Tensor, AddedConditioning)} needs SDXL's added conditioning. */
    public boolean needsAddedConditioning() {
        return addLinear1 != null;
    }

    /**
     * @param sample              latents [B, in_channels, h, w]
     * @param timestep            the (possibly fractional) timestep, the same for the whole batch
     * @param encoderHiddenStates text conditioning [B, T, cross_attention_dim]
     * @return the prediction [B, out_channels, h, w]
     */
    public Tensor forward(Tensor sample, double timestep, Tensor encoderHiddenStates) {
        return forward(sample, timestep, encoderHiddenStates, null);
    }

    /** As {@link #forward(Tensor, double, Tensor)}, with SDXL's added conditioning (null for SD 1.x/2.x). */
    public Tensor forward(Tensor sample, double timestep, Tensor encoderHiddenStates, AddedConditioning added) {
        return forward(sample, timestep, encoderHiddenStates, added, null);
    }

    /** Whether {@link #forward(Tensor, double, Tensor, AddedConditioning, int[])} needs class labels (the x4 upscaler). */
    public boolean needsClassLabels() {
        return classEmbedding != null;
    }

    /**
     * As {@link #forward(Tensor, double, Tensor, AddedConditioning)}, with one class label per batch row for a
     * UNet with a class embedding table (the x4 upscaler's noise level; null for other UNets).
     */
    public Tensor forward(Tensor sample, double timestep, Tensor encoderHiddenStates, AddedConditioning added, int[] classLabels) {
        int batch = sample.dim(0);
        if (sample.rank() != 4 || sample.dim(1) != config.inChannels()) {
            throw new IllegalArgumentException("UNet sample " + sample + ", expected [B, " + config.inChannels() + ", h, w]");
        }
        if (encoderHiddenStates.rank() != 3 || encoderHiddenStates.dim(0) != batch
                || encoderHiddenStates.dim(2) != config.crossAttentionDim()) {
            throw new IllegalArgumentException("UNet encoder_hidden_states " + encoderHiddenStates + ", expected ["
                    + batch + ", T, " + config.crossAttentionDim() + "]");
        }

        try (Workspace.Scope call = workspace.enter()) {
            // the result leaves the call; every other array goes back to the workspace
            return run(sample, timestep, encoderHiddenStates, added, classLabels, batch).copy();
        }
    }

    /**
     * Drops the feature maps kept for the next call (hundreds of MB at 512²): sampling is over, and the
     * decoder needs the memory.
     */
    public void releaseBuffers() {
        workspace.clear();
    }

    /** Bytes of the feature maps kept for the next call (tests). */
    public long workspaceBytes() {
        return workspace.heldBytes();
    }

    private Tensor run(Tensor sample, double timestep, Tensor encoderHiddenStates, AddedConditioning added, int[] classLabels,
                       int batch) {
        Tensor emb = timeEmbedding(timestep, batch);
        if (needsClassLabels()) {
            Ops.addInPlace(emb, classEmbedding(classLabels, batch));
        } else if (classLabels != null) {
            throw new IllegalArgumentException("this UNet has no class embedding; class labels given");
        }
        if (needsAddedConditioning()) {
            if (added == null) throw new IllegalArgumentException("this UNet needs text_embeds and time_ids (SDXL)");
            Ops.addInPlace(emb, addEmbedding(added, batch));
        }
        // every ResnetBlock2D projects SiLU(emb): activate once
        Tensor tembSilu = Ops.silu(emb);

        Tensor h = convIn.apply(sample);
        Deque<Tensor> skips = new ArrayDeque<>();
        skips.push(h);
        for (DownBlock block : downBlocks) {
            for (int j = 0; j < block.resnets.size(); j++) {
                h = block.resnets.get(j).forward(h, tembSilu);
                if (!block.attentions.isEmpty()) h = Workspace.replace(h, block.attentions.get(j).forward(h, encoderHiddenStates));
                skips.push(h);
            }
            if (block.downsampler != null) {
                h = block.downsampler.apply(h);
                skips.push(h);
            }
        }

        h = midResnet0.forward(h, tembSilu); // the last skip stays
        if (midAttention != null) h = Workspace.replace(h, midAttention.forward(h, encoderHiddenStates));
        h = Workspace.replace(h, midResnet1.forward(h, tembSilu));

        for (UpBlock block : upBlocks) {
            for (int j = 0; j < block.resnets.size(); j++) {
                Tensor skip = skips.pop();
                Tensor joined = Ops.concatChannels(h, skip);
                Workspace.release(h);
                Workspace.release(skip);
                h = Workspace.replace(joined, block.resnets.get(j).forward(joined, tembSilu));
                if (!block.attentions.isEmpty()) h = Workspace.replace(h, block.attentions.get(j).forward(h, encoderHiddenStates));
            }
            if (block.upsamplerConv != null) {
                // Upsample to the size of the skip the next level concatenates: 2× unless a downsampling
                // rounded an odd size up (e.g. 65 → 33), as diffusers does with upsample_size.
                Tensor next = skips.peek();
                Tensor up = Workspace.replace(h, upsampleNearest(h, next.dim(2), next.dim(3)));
                h = Workspace.replace(up, block.upsamplerConv.apply(up));
            }
        }

        return convOut.apply(convNormOut.applySilu(h));
    }

    private static Tensor upsampleNearest(Tensor x, int height, int width) {
        if (height == 2 * x.dim(2) && width == 2 * x.dim(3)) return Ops.upsampleNearest2x(x);
        return Ops.upsampleNearest(x, height, width);
    }

    /** time_embedding(sinusoidal(t)) for every batch item: [B, temb]. */
    private Tensor timeEmbedding(double timestep, int batch) {
        float[] features = sinusoidalEmbedding((float) timestep, timeProjDim, config.flipSinToCos(), config.freqShift());
        float[] rows = new float[batch * timeProjDim];
        for (int b = 0; b < batch; b++) System.arraycopy(features, 0, rows, b * timeProjDim, timeProjDim);
        Tensor x = new Tensor(rows, batch, timeProjDim);
        return timeLinear2.apply(Ops.silu(timeLinear1.apply(x)));
    }

    /** class_embedding[label] for every batch row: [B, temb]. */
    private Tensor classEmbedding(int[] labels, int batch) {
        if (labels == null || labels.length != batch) {
            throw new IllegalArgumentException("this UNet needs one class label per batch row (" + batch + ")");
        }
        int width = classEmbedding.dim(1);
        float[] rows = new float[batch * width];
        for (int b = 0; b < batch; b++) {
            if (labels[b] < 0 || labels[b] >= classEmbedding.dim(0)) {
                throw new IllegalArgumentException("class label " + labels[b] + " outside 0.." + (classEmbedding.dim(0) - 1));
            }
            classEmbedding.read((long) labels[b] * width, rows, b * width, width);
        }
        return new Tensor(rows, batch, width);
    }

    /**
     * SDXL: add_embedding([text_embeds, sinusoidal(time_ids) flattened]); each time id gets
     * addition_time_embed_dim features, made as for the timestep.
     */
    private Tensor addEmbedding(AddedConditioning added, int batch) {
        Tensor text = added.textEmbeds(), ids = added.timeIds();
        int perId = config.additionTimeEmbedDim();
        if (text.rank() != 2 || ids.rank() != 2 || text.dim(0) != batch || ids.dim(0) != batch
                || text.dim(1) + ids.dim(1) * perId != config.projectionClassEmbeddingsInputDim()) {
            throw new IllegalArgumentException("SDXL conditioning text_embeds " + text + " + time_ids " + ids
                    + " does not make [" + batch + ", " + config.projectionClassEmbeddingsInputDim() + "]");
        }
        int width = config.projectionClassEmbeddingsInputDim();
        float[] rows = new float[batch * width];
        for (int b = 0; b < batch; b++) {
            int o = b * width;
            System.arraycopy(text.data, b * text.dim(1), rows, o, text.dim(1));
            o += text.dim(1);
            for (int i = 0; i < ids.dim(1); i++, o += perId) {
                float[] f = sinusoidalEmbedding(ids.data[b * ids.dim(1) + i], perId, config.flipSinToCos(), config.freqShift());
                System.arraycopy(f, 0, rows, o, perId);
            }
        }
        return addLinear2.apply(Ops.silu(addLinear1.apply(new Tensor(rows, batch, width))));
    }

    /**
     * diffusers' get_timestep_embedding for one value, step by step in float32 as torch computes it:
     * frequencies exp(−ln(10000)·i / (half − freq_shift)), then [sin(t·f), cos(t·f)], flipped to [cos, sin]
     * when flip_sin_to_cos; an odd dim gets a trailing zero.
     */
    static float[] sinusoidalEmbedding(float t, int dim, boolean flipSinToCos, int freqShift) {
        int half = dim / 2;
        float[] out = new float[dim];
        float negLogMaxPeriod = (float) -Math.log(MAX_PERIOD);
        float denominator = half - freqShift;
        for (int i = 0; i < half; i++) {
            float exponent = negLogMaxPeriod * (float) i / denominator;
            // correctly rounded; torch's vectorised expf (SLEEF) is sometimes 1 ulp off, which moves t·freq by
            // up to an ulp and the UNet output by ~1e-5 relative: measurable, far inside the 1e-4 tolerance
            float freq = (float) Math.exp(exponent);
            float arg = t * freq;
            float sin = (float) Math.sin(arg), cos = (float) Math.cos(arg);
            out[i] = flipSinToCos ? cos : sin;
            out[half + i] = flipSinToCos ? sin : cos;
        }
        return out;
    }
}
