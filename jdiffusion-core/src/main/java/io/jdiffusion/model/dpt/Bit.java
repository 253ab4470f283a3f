package io.jdiffusion.model.dpt;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.model.unet.GroupNorm;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Parallel;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

import java.util.ArrayList;
import java.util.List;

/**
 * BiT ("Big Transfer") ResNet with bottleneck units, as transformers' {@code BitBackbone} computes it: the
 * convolutional stem of DPT-Hybrid. Tensor names, relative to the backbone ({@code dpt.embeddings.backbone.bit.}
 * in a DPT checkpoint):
 * <ul>
 *   <li>{@code embedder.convolution}: 7×7 stride-2 convolution; {@code embedder.norm}: group norm + ReLU; then a
 *   3×3 stride-2 max pool;</li>
 *   <li>{@code encoder.stages.S.layers.L.}: bottleneck units — {@code conv1} (1×1) + {@code norm1} + ReLU,
 *   {@code conv2} (3×3, stride 2 in the first unit of every stage but the first) + {@code norm2} + ReLU,
 *   {@code conv3} (1×1) + {@code norm3}; added to the shortcut and ReLU'd. The first unit of a stage takes its
 *   shortcut through {@code downsample.conv} (1×1, same stride) + {@code downsample.norm}.</li>
 * </ul>
 * Every convolution is weight-standardised: each output channel's kernel is shifted to zero mean and scaled to
 * unit (biased) variance before use. The kernels are fixed, so that happens once, here at load time.
 */
public final class Bit {
    /** The epsilon under the kernels' variance (all of BiT's convolutions use 1e-8). */
    private static final double STANDARDIZE_EPS = 1e-8;
    /** GroupNorm's default epsilon, which BiT keeps. */
    private static final double NORM_EPS = 1e-5;
    private static final int POOL_KERNEL = 3, POOL_STRIDE = 2;

    private final BitConfig config;
    private final Conv stem;
    private final GroupNorm stemNorm;
    private final List<List<Unit>> stages = new ArrayList<>();

    /** A weight-standardised convolution (no bias, as BiT's are) and its stride. */
    private record Conv(Weight kernel, int stride) {
    }

    /** One bottleneck unit; {@code shortcut} and {@code shortcutNorm} only in a stage's first unit. */
    private record Unit(Conv conv1, GroupNorm norm1, Conv conv2, GroupNorm norm2, Conv conv3, GroupNorm norm3,
                        Conv shortcut, GroupNorm shortcutNorm) {
    }

    /** The backbone from its weights ({@code embedder.*}, {@code encoder.*}). */
    public Bit(BitConfig config, Weights w) {
        this.config = config;
        this.stem = conv(w, "embedder.convolution", 2);
        this.stemNorm = norm(w, "embedder.norm", stem.kernel().dim(0));
        int channels = stem.kernel().dim(0);
        for (int s = 0; s < config.depths().length; s++) {
            List<Unit> units = new ArrayList<>();
            for (int l = 0; l < config.depths()[s]; l++) {
                String u = "encoder.stages." + s + ".layers." + l + ".";
                int stride = s > 0 && l == 0 ? 2 : 1;
                Conv c1 = conv(w, u + "conv1", 1), c2 = conv(w, u + "conv2", stride), c3 = conv(w, u + "conv3", 1);
                Conv down = l == 0 ? conv(w, u + "downsample.conv", stride) : null;
                checkChain(w, channels, c1, c2, c3, down);
                int out = c3.kernel().dim(0);
                units.add(new Unit(c1, norm(w, u + "norm1", c1.kernel().dim(0)), c2, norm(w, u + "norm2", c2.kernel().dim(0)),
                        c3, norm(w, u + "norm3", out), down, down == null ? null : norm(w, u + "downsample.norm", out)));
                channels = out;
            }
            stages.add(units);
        }
    }

    /**
     * The feature maps of the stages the config names ({@code out_features}), each [B, C, H, W], for pixel
     * values [B, 3, H, W].
     */
    public List<Tensor> featureMaps(Tensor pixels) {
        List<Tensor> outputs = new ArrayList<>();
        Tensor x = convolve(stem, pixels);
        // without "SAME" padding BiT frames the stem's output with one zero pixel before its norm and pool
        if (config.padding() != BitConfig.Padding.SAME) x = Ops.pad(x, 1, 1, 1, 1);
        x = maxPool(reluInPlace(stemNorm.apply(x)));
        outputs.add(x);
        for (List<Unit> stage : stages) {
            for (Unit unit : stage) x = bottleneck(unit, x);
            outputs.add(x);
        }
        List<Tensor> selected = new ArrayList<>();
        for (int s : config.featureStages()) selected.add(outputs.get(s));
        return selected;
    }

    private Tensor bottleneck(Unit u, Tensor x) {
        Tensor shortcut = u.shortcut() == null ? x : u.shortcutNorm().apply(convolve(u.shortcut(), x));
        Tensor h = reluInPlace(u.norm1().apply(convolve(u.conv1(), x)));
        h = reluInPlace(u.norm2().apply(convolve(u.conv2(), h)));
        h = u.norm3().apply(convolve(u.conv3(), h));
        Ops.addInPlace(h, shortcut);
        return reluInPlace(h);
    }

    /** The convolution with the config's padding: "SAME" pads as TensorFlow, extra pixels on the bottom/right. */
    private Tensor convolve(Conv c, Tensor x) {
        int k = c.kernel().dim(2), stride = c.stride();
        return switch (config.padding()) {
            case SYMMETRIC -> Ops.conv2d(x, c.kernel(), null, stride, (stride - 1 + k - 1) / 2);
            case SAME -> {
                if (stride == 1 && k % 2 == 1) yield Ops.conv2d(x, c.kernel(), null, 1, (k - 1) / 2);
                yield Ops.conv2d(padSame(x, k, stride), c.kernel(), null, stride, 0);
            }
        };
    }

    /** Zero padding to TensorFlow's "SAME" output size ceil(in / stride), the odd pixel after. */
    private static Tensor padSame(Tensor x, int k, int stride) {
        int padH = samePadding(x.dim(2), k, stride), padW = samePadding(x.dim(3), k, stride);
        if (padH == 0 && padW == 0) return x;
        return Ops.pad(x, padW / 2, padW - padW / 2, padH / 2, padH - padH / 2);
    }

    private static int samePadding(int size, int k, int stride) {
        int out = (size + stride - 1) / stride;
        return Math.max((out - 1) * stride + k - size, 0);
    }

    /** 3×3 stride-2 max pool (floor mode), after zero padding to "SAME" size when the config asks for it. */
    private Tensor maxPool(Tensor x) {
        if (config.embeddingDynamicPadding()) x = padSame(x, POOL_KERNEL, POOL_STRIDE);
        int planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
        int oh = (h - POOL_KERNEL) / POOL_STRIDE + 1, ow = (w - POOL_KERNEL) / POOL_STRIDE + 1;
        float[] in = x.data, out = new float[planes * oh * ow];
        Parallel.forRange(planes, 1, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        float m = Float.NEGATIVE_INFINITY;
                        for (int ky = 0; ky < POOL_KERNEL; ky++) {
                            int row = (p * h + oy * POOL_STRIDE + ky) * w + ox * POOL_STRIDE;
                            for (int kx = 0; kx < POOL_KERNEL; kx++) m = Math.max(m, in[row + kx]);
                        }
                        out[(p * oh + oy) * ow + ox] = m;
                    }
                }
            }
        });
        return new Tensor(out, x.dim(0), x.dim(1), oh, ow);
    }

    private static Tensor reluInPlace(Tensor x) {
        float[] d = x.data;
        for (int i = 0; i < d.length; i++) if (d[i] < 0) d[i] = 0;
        return x;
    }

    private GroupNorm norm(Weights w, String name, int channels) {
        return GroupNorm.load(w, name, channels, config.groups(), NORM_EPS);
    }

    /** The stored kernel, standardised per output channel: (k − mean) / sqrt(var + 1e-8), var biased. */
    private static Conv conv(Weights w, String name, int stride) {
        Weight stored = w.get(name + ".weight");
        if (stored.rank() != 4 || stored.dim(2) != stored.dim(3)) {
            throw new JDiffusionException(w.source() + ": tensor '" + name + ".weight' has shape " + stored.shapeString()
                    + ", expected a square convolution kernel [out, in, k, k]");
        }
        if (w.has(name + ".bias")) throw new JDiffusionException(w.source() + ": BiT convolution '" + name + "' has a bias, which BiT does not use");
        float[] k = stored.toFloats();
        int outChannels = stored.dim(0), per = k.length / outChannels;
        for (int o = 0; o < outChannels; o++) {
            double sum = 0;
            for (int i = 0; i < per; i++) sum += k[o * per + i];
            double mean = sum / per, squares = 0;
            for (int i = 0; i < per; i++) {
                double d = k[o * per + i] - mean;
                squares += d * d;
            }
            double inv = 1 / Math.sqrt(squares / per + STANDARDIZE_EPS);
            for (int i = 0; i < per; i++) k[o * per + i] = (float) ((k[o * per + i] - mean) * inv);
        }
        return new Conv(Weight.ofFloats(stored.name(), k, stored.shape()), stride);
    }

    /** The unit's convolutions fit together: in → conv1 → conv2 → conv3, and the shortcut maps in to conv3's width. */
    private static void checkChain(Weights w, int in, Conv c1, Conv c2, Conv c3, Conv shortcut) {
        boolean ok = c1.kernel().dim(1) == in && c2.kernel().dim(1) == c1.kernel().dim(0) && c3.kernel().dim(1) == c2.kernel().dim(0)
                && (shortcut == null ? c3.kernel().dim(0) == in
                : shortcut.kernel().dim(1) == in && shortcut.kernel().dim(0) == c3.kernel().dim(0));
        if (!ok) {
            throw new JDiffusionException(w.source() + ": the BiT unit of '" + c1.kernel().name() + "' does not chain from " + in
                    + " channels (conv1 " + c1.kernel().shapeString() + ", conv2 " + c2.kernel().shapeString() + ", conv3 "
                    + c3.kernel().shapeString() + (shortcut == null ? "" : ", downsample " + shortcut.kernel().shapeString()) + ")");
        }
    }
}
