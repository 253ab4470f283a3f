package io.jdiffusion.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Every tensor of an original-layout single-file checkpoint (as CompVis / Stability AI publish them:
 * {@code model.diffusion_model.*}, {@code first_stage_model.*}, {@code cond_stage_model.*} or
 * {@code conditioner.embedders.N.*}), with its name and shape, generated from the architecture's config
 * the way the original code (ldm / sgm {@code openaimodel.py}, {@code autoencoder}, transformers' CLIP,
 * OpenCLIP) registers its parameters. Nothing is read from a real checkpoint: the benchmark builds a model
 * of the real size from this list alone.
 *
 * <p>Each tensor also carries how to fill it with plausible random values, as PyTorch initialises the
 * module: weights and biases uniform in ±1/√fan_in (torch's default for Linear and Conv2d), norm scales 1
 * and shifts 0, so that a random model's activations stay in the range a trained one has.
 */
public final class OriginalLayout {

    /** How a tensor is filled. */
    public enum Init {
        /** uniform in [−value, value) */
        UNIFORM,
        /** every element equal to value */
        CONSTANT,
        /** 0, 1, 2, ... along the last dimension (the int64 position_ids buffer) */
        POSITIONS
    }

    /**
     * One tensor of the file.
     *
     * @param dtype safetensors dtype: "F16" for every parameter, "I64" for the position_ids buffer
     */
    public record TensorSpec(String name, String dtype, long[] shape, Init init, float value) {
        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public int elementBytes() {
            return dtype.equals("I64") ? 8 : 2;
        }

        public long byteSize() {
            return numel() * elementBytes();
        }

        @Override
        public String toString() {
            return name + " " + dtype + " " + Arrays.toString(shape);
        }
    }

    /**
     * The diffusion model (openaimodel.py's UNetModel).
     *
     * @param channels         model_channels × channel_mult, per level
     * @param resBlocks        num_res_blocks
     * @param transformerDepth per level: SpatialTransformer depth, 0 for a level without attention
     * @param midDepth         the middle block's transformer depth
     * @param contextDim       context_dim (the text encoder's width)
     * @param linearProjection use_linear_in_transformer: proj_in/proj_out as [C, C] instead of 1×1 convs
     * @param admInChannels    adm_in_channels (SDXL's label_emb), 0 for none
     */
    public record UNetSpec(int inChannels, int outChannels, int[] channels, int resBlocks, int[] transformerDepth,
                           int midDepth, int contextDim, boolean linearProjection, int admInChannels) {
    }

    /**
     * The first stage (AutoencoderKL's ddconfig).
     *
     * @param channels ch × ch_mult, per level
     * @param zChannels z_channels (= embed_dim in every published model)
     */
    public record VaeSpec(int imageChannels, int[] channels, int resBlocks, int zChannels) {
    }

    /** OpenAI CLIP's text model in transformers' naming (SD 1.x, SDXL's first encoder). */
    public record ClipSpec(int vocab, int positions, int width, int layers, int mlpWidth, boolean positionIds) {
    }

    /** OpenCLIP's text tower (SD 2.x, SDXL's second encoder). */
    public record OpenClipSpec(int vocab, int positions, int width, int layers, int mlpWidth, int projectionDim) {
    }

    private final List<TensorSpec> tensors = new ArrayList<>();

    public List<TensorSpec> tensors() {
        return Collections.unmodifiableList(tensors);
    }

    public long byteSize() {
        long n = 0;
        for (TensorSpec t : tensors) n += t.byteSize();
        return n;
    }

    // ---------------------------------------------------------------- UNet

    /** Adds the UNet's tensors under {@code prefix} (e.g. "model.diffusion_model."). */
    public OriginalLayout unet(String prefix, UNetSpec s) {
        int c0 = s.channels[0], temb = 4 * c0;
        linear(prefix + "time_embed.0", temb, c0);
        linear(prefix + "time_embed.2", temb, temb);
        if (s.admInChannels > 0) {
            linear(prefix + "label_emb.0.0", temb, s.admInChannels);
            linear(prefix + "label_emb.0.2", temb, temb);
        }
        conv(prefix + "input_blocks.0.0", c0, s.inChannels, 3);

        // every input block's output is a skip connection that an output block concatenates
        List<Integer> skips = new ArrayList<>();
        skips.add(c0);
        int ch = c0, block = 1, levels = s.channels.length;
        for (int level = 0; level < levels; level++) {
            for (int r = 0; r < s.resBlocks; r++, block++) {
                String b = prefix + "input_blocks." + block + ".";
                resBlock(b + "0.", ch, s.channels[level], temb);
                ch = s.channels[level];
                if (s.transformerDepth[level] > 0) spatialTransformer(b + "1.", ch, s.transformerDepth[level], s);
                skips.add(ch);
            }
            if (level < levels - 1) {
                conv(prefix + "input_blocks." + block + ".0.op", ch, ch, 3);
                skips.add(ch);
                block++;
            }
        }

        resBlock(prefix + "middle_block.0.", ch, ch, temb);
        spatialTransformer(prefix + "middle_block.1.", ch, s.midDepth, s);
        resBlock(prefix + "middle_block.2.", ch, ch, temb);

        block = 0;
        for (int level = levels - 1; level >= 0; level--) {
            for (int r = 0; r <= s.resBlocks; r++, block++) {
                String b = prefix + "output_blocks." + block + ".";
                resBlock(b + "0.", ch + skips.removeLast(), s.channels[level], temb);
                ch = s.channels[level];
                int part = 1;
                if (s.transformerDepth[level] > 0) spatialTransformer(b + part++ + ".", ch, s.transformerDepth[level], s);
                if (level > 0 && r == s.resBlocks) conv(b + part + ".conv", ch, ch, 3);
            }
        }
        norm(prefix + "out.0", ch);
        conv(prefix + "out.2", s.outChannels, ch, 3);
        return this;
    }

    /** ResBlock: in_layers (GroupNorm, SiLU, conv), emb_layers (SiLU, linear), out_layers (GroupNorm, SiLU, dropout, conv). */
    private void resBlock(String p, int in, int out, int temb) {
        norm(p + "in_layers.0", in);
        conv(p + "in_layers.2", out, in, 3);
        linear(p + "emb_layers.1", out, temb);
        norm(p + "out_layers.0", out);
        conv(p + "out_layers.3", out, out, 3);
        if (in != out) conv(p + "skip_connection", out, in, 1);
    }

    private void spatialTransformer(String p, int ch, int depth, UNetSpec s) {
        norm(p + "norm", ch);
        projection(p + "proj_in", ch, s.linearProjection);
        for (int i = 0; i < depth; i++) {
            String t = p + "transformer_blocks." + i + ".";
            attention(t + "attn1", ch, ch);
            attention(t + "attn2", ch, s.contextDim);
            linear(t + "ff.net.0.proj", 8 * ch, ch); // GEGLU: hidden and gate halves of 4·C each
            linear(t + "ff.net.2", ch, 4 * ch);
            norm(t + "norm1", ch);
            norm(t + "norm2", ch);
            norm(t + "norm3", ch);
        }
        projection(p + "proj_out", ch, s.linearProjection);
    }

    private void projection(String name, int ch, boolean linear) {
        if (linear) linear(name, ch, ch);
        else conv(name, ch, ch, 1);
    }

    /** CrossAttention: bias-free q, k, v; to_out.0 with bias. */
    private void attention(String p, int ch, int keyDim) {
        weight(p + ".to_q.weight", ch, ch);
        weight(p + ".to_k.weight", ch, keyDim);
        weight(p + ".to_v.weight", ch, keyDim);
        linear(p + ".to_out.0", ch, ch);
    }

    // ---------------------------------------------------------------- VAE

    /** Adds the VAE's tensors under {@code prefix} (e.g. "first_stage_model."). */
    public OriginalLayout vae(String prefix, VaeSpec s) {
        int levels = s.channels.length, z = s.zChannels;
        String e = prefix + "encoder.";
        conv(e + "conv_in", s.channels[0], s.imageChannels, 3);
        int ch = s.channels[0];
        for (int level = 0; level < levels; level++) {
            for (int j = 0; j < s.resBlocks; j++) {
                vaeResBlock(e + "down." + level + ".block." + j + ".", ch, s.channels[level]);
                ch = s.channels[level];
            }
            if (level < levels - 1) conv(e + "down." + level + ".downsample.conv", ch, ch, 3);
        }
        vaeMid(e + "mid.", ch);
        norm(e + "norm_out", ch);
        conv(e + "conv_out", 2 * z, ch, 3); // double_z: mean and log-variance
        conv(prefix + "quant_conv", 2 * z, 2 * z, 1);
        conv(prefix + "post_quant_conv", z, z, 1);

        String d = prefix + "decoder.";
        ch = s.channels[levels - 1];
        conv(d + "conv_in", ch, z, 3);
        vaeMid(d + "mid.", ch);
        // the decoder numbers its levels as the encoder does: up.(levels-1) runs first, up.0 last
        for (int level = levels - 1; level >= 0; level--) {
            for (int j = 0; j <= s.resBlocks; j++) {
                vaeResBlock(d + "up." + level + ".block." + j + ".", ch, s.channels[level]);
                ch = s.channels[level];
            }
            if (level > 0) conv(d + "up." + level + ".upsample.conv", ch, ch, 3);
        }
        norm(d + "norm_out", ch);
        conv(d + "conv_out", s.imageChannels, ch, 3);
        return this;
    }

    private void vaeResBlock(String p, int in, int out) {
        norm(p + "norm1", in);
        conv(p + "conv1", out, in, 3);
        norm(p + "norm2", out);
        conv(p + "conv2", out, out, 3);
        if (in != out) conv(p + "nin_shortcut", out, in, 1);
    }

    /** block_1, attn_1 (one-head self-attention with 1×1-conv q, k, v, proj_out), block_2. */
    private void vaeMid(String p, int ch) {
        vaeResBlock(p + "block_1.", ch, ch);
        norm(p + "attn_1.norm", ch);
        for (String part : new String[]{"q", "k", "v", "proj_out"}) conv(p + "attn_1." + part, ch, ch, 1);
        vaeResBlock(p + "block_2.", ch, ch);
    }

    // ---------------------------------------------------------------- text encoders

    /** Adds a transformers CLIPTextModel under {@code prefix} (e.g. "cond_stage_model.transformer."). */
    public OriginalLayout clip(String prefix, ClipSpec s) {
        String m = prefix + "text_model.";
        embedding(m + "embeddings.token_embedding.weight", s.vocab, s.width);
        embedding(m + "embeddings.position_embedding.weight", s.positions, s.width);
        if (s.positionIds) {
            tensors.add(new TensorSpec(m + "embeddings.position_ids", "I64", new long[]{1, s.positions}, Init.POSITIONS, 0));
        }
        for (int i = 0; i < s.layers; i++) {
            String l = m + "encoder.layers." + i + ".";
            for (String proj : new String[]{"k_proj", "v_proj", "q_proj", "out_proj"}) linear(l + "self_attn." + proj, s.width, s.width);
            norm(l + "layer_norm1", s.width);
            linear(l + "mlp.fc1", s.mlpWidth, s.width);
            linear(l + "mlp.fc2", s.width, s.mlpWidth);
            norm(l + "layer_norm2", s.width);
        }
        norm(m + "final_layer_norm", s.width);
        return this;
    }

    /** Adds an OpenCLIP text tower under {@code prefix} (e.g. "cond_stage_model.model."). */
    public OriginalLayout openClip(String prefix, OpenClipSpec s) {
        embedding(prefix + "token_embedding.weight", s.vocab, s.width);
        embedding(prefix + "positional_embedding", s.positions, s.width);
        for (int i = 0; i < s.layers; i++) {
            String l = prefix + "transformer.resblocks." + i + ".";
            norm(l + "ln_1", s.width);
            // q, k and v fused into one projection
            uniform(l + "attn.in_proj_weight", s.width, 3L * s.width, s.width);
            uniform(l + "attn.in_proj_bias", s.width, 3L * s.width);
            linear(l + "attn.out_proj", s.width, s.width);
            norm(l + "ln_2", s.width);
            linear(l + "mlp.c_fc", s.mlpWidth, s.width);
            linear(l + "mlp.c_proj", s.width, s.mlpWidth);
        }
        norm(prefix + "ln_final", s.width);
        uniform(prefix + "text_projection", s.width, s.width, s.projectionDim);
        // CLIP's learned temperature, initialised to ln(1/0.07)
        tensors.add(new TensorSpec(prefix + "logit_scale", "F16", new long[0], Init.CONSTANT, (float) Math.log(1 / 0.07)));
        return this;
    }

    // ---------------------------------------------------------------- modules

    private void linear(String name, int out, int in) {
        uniform(name + ".weight", in, out, in);
        uniform(name + ".bias", in, out);
    }

    private void weight(String name, int out, int in) {
        uniform(name, in, out, in);
    }

    private void conv(String name, int out, int in, int k) {
        int fanIn = in * k * k;
        uniform(name + ".weight", fanIn, out, in, k, k);
        uniform(name + ".bias", fanIn, out);
    }

    /** GroupNorm / LayerNorm: scale 1, shift 0. */
    private void norm(String name, int ch) {
        tensors.add(new TensorSpec(name + ".weight", "F16", new long[]{ch}, Init.CONSTANT, 1));
        tensors.add(new TensorSpec(name + ".bias", "F16", new long[]{ch}, Init.CONSTANT, 0));
    }

    /** Embedding rows of about unit length (bound 1/√width per element). */
    private void embedding(String name, int rows, int width) {
        uniform(name, width, rows, width);
    }

    private void uniform(String name, long fanIn, long... shape) {
        tensors.add(new TensorSpec(name, "F16", shape, Init.UNIFORM, (float) (1 / Math.sqrt(fanIn))));
    }
}
