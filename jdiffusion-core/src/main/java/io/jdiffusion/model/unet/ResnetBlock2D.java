package io.jdiffusion.model.unet;

import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.tensor.Workspace;

/**
 * diffusers' ResnetBlock2D (the UNet's and the VAE's): norm1+SiLU → conv1 → (+ time_emb_proj of the
 * activated timestep embedding, one value per channel) → norm2+SiLU → conv2, added to the input, which
 * goes through the 1×1 conv_shortcut when the channel count changes. Output scale factor 1.
 */
public final class ResnetBlock2D {
    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final Linear timeEmbProj;   // null in the VAE, which has no timestep
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d convShortcut;  // null when in == out

    /**
     * @param prefix       the block's tensor prefix, e.g. {@code down_blocks.0.resnets.1}
     * @param tembChannels width of the timestep embedding, or 0 for a block without one (VAE)
     */
    public ResnetBlock2D(Weights w, String prefix, int inChannels, int outChannels, int tembChannels,
                         int groups, double eps) {
        String p = prefix + ".";
        norm1 = GroupNorm.load(w, p + "norm1", inChannels, groups, eps);
        conv1 = Conv2d.load(w, p + "conv1", outChannels, inChannels, 1);
        timeEmbProj = tembChannels > 0 ? Linear.load(w, p + "time_emb_proj", outChannels, tembChannels, true) : null;
        norm2 = GroupNorm.load(w, p + "norm2", outChannels, groups, eps);
        conv2 = Conv2d.load(w, p + "conv2", outChannels, outChannels, 1);
        convShortcut = inChannels != outChannels ? Conv2d.load(w, p + "conv_shortcut", outChannels, inChannels, 1) : null;
    }

    public int outChannels() {
        return conv2.outChannels();
    }

    /**
     * @param x           [B, in, H, W]
     * @param tembSilu    SiLU(timestep embedding) [B, temb], or null for a block without time embedding
     * @return [B, out, H, W]
     */
    public Tensor forward(Tensor x, Tensor tembSilu) {
        try (Workspace.Scope block = Workspace.scope()) {
            // each map handed back as soon as the next is made from it: at the VAE's full resolution they are
            // hundreds of MB each
            Tensor activated = norm1.applySilu(x);
            Tensor h = Workspace.replace(activated, conv1.apply(activated));
            if (timeEmbProj != null) Ops.addPerChannelInPlace(h, timeEmbProj.apply(tembSilu));
            activated = Workspace.replace(h, norm2.applySilu(h));
            h = Workspace.replace(activated, conv2.apply(activated));
            Ops.addInPlace(h, convShortcut != null ? convShortcut.apply(x) : x);
            return block.keep(h);
        }
    }
}
