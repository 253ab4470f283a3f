package io.jdiffusion.model.dpt;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.TensorFile;
import io.jdiffusion.tensor.Ops;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * DPT (dense prediction transformer) for monocular depth, as transformers' {@code DPTForDepthEstimation}
 * with the plain ViT backbone or DPT-Hybrid's, under its tensor names:
 * <ul>
 *   <li>{@code dpt.embeddings.*}: 16×16 patch projection, CLS token, learned position embeddings (resized
 *   bilinearly to the token grid);</li>
 *   <li>DPT-Hybrid ({@code is_hybrid}) instead: {@code dpt.embeddings.backbone.bit.*}, a BiT ResNet ({@link Bit})
 *   whose last feature map, projected 1×1 by {@code dpt.embeddings.projection}, gives the patch tokens, and whose
 *   first two feature maps are the neck's first two stages as they are (no reassembling);</li>
 *   <li>{@code dpt.encoder.layer.N.*}: pre-norm ViT layers; the outputs of the layers named by
 *   {@code backbone_out_indices} go on to the neck (the final {@code dpt.layernorm} is not on this path);</li>
 *   <li>{@code neck.reassemble_stage.*}: per stage the CLS token is folded in (readout), the tokens become a
 *   feature map, a 1×1 projection and a resize (transposed conv up, identity, or stride-2 conv down);</li>
 *   <li>{@code neck.convs.N}: 3×3 convs to the fusion width; {@code neck.fusion_stage.layers.N}: from the
 *   coarsest map up, each block adds a residual-conv-unit of the next finer map, refines, upsamples ×2
 *   bilinearly (align_corners) and projects 1×1;</li>
 *   <li>{@code head.head.*}: conv, ×2 bilinear upsample, conv, ReLU, 1×1 conv, ReLU → relative inverse depth.</li>
 * </ul>
 */
public final class Dpt {
    private final DptConfig config;
    private final Weights w;
    private final int hidden;
    /** DPT-Hybrid's ResNet; null for the plain ViT. */
    private final Bit bit;

    public Dpt(DptConfig config, Weights weights) {
        if (config.batchNormInFusion()) {
            throw new JDiffusionException(weights.source() + ": batch norm in the DPT fusion blocks is not supported");
        }
        this.config = config;
        this.w = weights;
        this.hidden = weights.get("dpt.embeddings.cls_token").dim(2);
        this.bit = config.hybrid() ? new Bit(config.backbone(), weights.sub("dpt.embeddings.backbone.bit")) : null;
        if (hidden % config.heads() != 0) {
            throw new JDiffusionException(weights.source() + ": hidden size " + hidden + " is not a multiple of " + config.heads() + " heads");
        }
    }

    /**
     * A transformers folder: {@code config.json} and {@code model.safetensors} (or its fp16 variant, as a Hub
     * download of a depth model may hold, or {@code pytorch_model.bin}).
     */
    public static Dpt load(Path dir) {
        if (!Files.isDirectory(dir)) throw new JDiffusionException(dir + ": not a directory (expected a DPT folder with config.json)");
        DptConfig config = DptConfig.read(dir.resolve("config.json"));
        for (String name : new String[]{"model.safetensors", "model.fp16.safetensors", "pytorch_model.bin", "pytorch_model.fp16.bin"}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                TensorFile file = TensorFile.open(p);
                return new Dpt(config, new Weights(file.tensors(), p.toString()));
            }
        }
        throw new JDiffusionException(dir + ": no model.safetensors");
    }

    public DptConfig config() {
        return config;
    }

    /**
     * What one forward pass computed: the ViT hidden states (embeddings, then each layer), DPT-Hybrid's BiT feature
     * maps (empty for the plain ViT) and the depth [B, H, W].
     */
    public record Output(List<Tensor> hiddenStates, List<Tensor> backboneFeatureMaps, Tensor predictedDepth) {
    }

    /** Relative inverse depth (larger = nearer) [B, H, W] for pixel values [B, 3, H, W]. */
    public Tensor predictDepth(Tensor pixelValues) {
        return forward(pixelValues).predictedDepth();
    }

    public Output forward(Tensor pixelValues) {
        int p = config.patchSize();
        int gridH = pixelValues.dim(2) / p, gridW = pixelValues.dim(3) / p;
        List<Tensor> states = new ArrayList<>();
        List<Tensor> maps = bit == null ? List.of() : bit.featureMaps(pixelValues);
        Tensor x = bit == null ? embeddings(pixelValues, gridH, gridW) : hybridEmbeddings(maps.getLast(), gridH, gridW);
        states.add(x);
        for (int i = 0; i < config.layers(); i++) {
            x = vitLayer(x, "dpt.encoder.layer." + i + ".");
            states.add(x);
        }
        // the neck's stages: DPT-Hybrid's first ones are BiT maps, the rest (all, for the plain ViT) the outputs of
        // the ViT layers named in backbone_out_indices, in layer order
        int skipped = bit == null ? 0 : DptConfig.HYBRID_BACKBONE_STAGES.length;
        int[] out = config.outIndices();
        List<Tensor> stages = new ArrayList<>(maps.subList(0, skipped));
        for (int layer = 0; layer < config.layers(); layer++) {
            for (int j = skipped; j < out.length; j++) {
                if (out[j] == layer) {
                    stages.add(reassemble(states.get(layer + 1), stages.size(), gridH, gridW));
                    break;
                }
            }
        }
        if (stages.size() != out.length) {
            throw new JDiffusionException(w.source() + ": backbone_out_indices " + java.util.Arrays.toString(out) + " do not name "
                    + (out.length - skipped) + " distinct layers of " + config.layers());
        }
        List<Tensor> features = new ArrayList<>();
        for (int i = 0; i < stages.size(); i++) {
            features.add(Ops.conv2d(stages.get(i), w.get("neck.convs." + i + ".weight"), null, 1, 1));
        }
        List<Tensor> fused = new ArrayList<>();
        Tensor f = null;
        for (int i = 0; i < features.size(); i++) {
            f = fusion(f, features.get(features.size() - 1 - i), "neck.fusion_stage.layers." + i + ".");
            fused.add(f);
        }
        int index = config.headInIndex() < 0 ? fused.size() + config.headInIndex() : config.headInIndex();
        return new Output(states, maps, head(fused.get(index)));
    }

    private Tensor embeddings(Tensor pixels, int gridH, int gridW) {
        String e = "dpt.embeddings.";
        Tensor patches = Ops.toTokens(Ops.conv2d(pixels, w.get(e + "patch_embeddings.projection.weight"),
                w.get(e + "patch_embeddings.projection.bias"), config.patchSize(), 0));
        return withClsAndPositions(patches, gridH, gridW);
    }

    /** DPT-Hybrid's tokens: the last BiT feature map, projected 1×1 to the hidden width, one token per pixel. */
    private Tensor hybridEmbeddings(Tensor featureMap, int gridH, int gridW) {
        if (featureMap.dim(2) != gridH || featureMap.dim(3) != gridW) {
            throw new JDiffusionException(w.source() + ": the BiT feature map is " + featureMap.dim(2) + "x" + featureMap.dim(3)
                    + ", not the " + gridH + "x" + gridW + " token grid of patch_size " + config.patchSize()
                    + " (the image side must be a multiple of " + config.patchSize() + ")");
        }
        String e = "dpt.embeddings.projection.";
        return withClsAndPositions(Ops.toTokens(Ops.conv2d(featureMap, w.get(e + "weight"), w.get(e + "bias"), 1, 0)), gridH, gridW);
    }

    /** The CLS token before the patch tokens [B, gh·gw, C], position embeddings added to all. */
    private Tensor withClsAndPositions(Tensor patches, int gridH, int gridW) {
        String e = "dpt.embeddings.";
        int batch = patches.dim(0), tokens = gridH * gridW + 1;
        float[] cls = w.get(e + "cls_token").toFloats();
        float[] pos = positionEmbeddings(gridH, gridW);
        float[] out = new float[batch * tokens * hidden];
        for (int b = 0; b < batch; b++) {
            int base = b * tokens * hidden;
            System.arraycopy(cls, 0, out, base, hidden);
            System.arraycopy(patches.data, b * (tokens - 1) * hidden, out, base + hidden, (tokens - 1) * hidden);
            for (int i = 0; i < tokens * hidden; i++) out[base + i] += pos[i];
        }
        return new Tensor(out, batch, tokens, hidden);
    }

    /** The CLS position embedding, then the grid's, resized bilinearly from the stored square grid. */
    private float[] positionEmbeddings(int gridH, int gridW) {
        Weight stored = w.get("dpt.embeddings.position_embeddings");
        int storedTokens = stored.dim(1) - 1;
        int side = (int) Math.sqrt(storedTokens);
        if (side * side != storedTokens) {
            throw new JDiffusionException(w.source() + ": position_embeddings hold " + storedTokens + " grid tokens, not a square grid");
        }
        float[] all = stored.toFloats();
        float[] gridTokens = java.util.Arrays.copyOfRange(all, hidden, all.length);
        Tensor grid = Ops.fromTokens(new Tensor(gridTokens, 1, storedTokens, hidden), side, side);
        Tensor resized = Ops.toTokens(Interpolation.bilinear(grid, gridH, gridW, false));
        float[] out = new float[(gridH * gridW + 1) * hidden];
        System.arraycopy(all, 0, out, 0, hidden);
        System.arraycopy(resized.data, 0, out, hidden, gridH * gridW * hidden);
        return out;
    }

    private Tensor vitLayer(Tensor x, String l) {
        float eps = config.layerNormEps();
        Tensor h = Ops.layerNorm(x, w.get(l + "layernorm_before.weight"), w.get(l + "layernorm_before.bias"), eps);
        String a = l + "attention.attention.";
        Tensor q = Ops.linear(h, w.get(a + "query.weight"), w.getOptional(a + "query.bias"));
        Tensor k = Ops.linear(h, w.get(a + "key.weight"), w.getOptional(a + "key.bias"));
        Tensor v = Ops.linear(h, w.get(a + "value.weight"), w.getOptional(a + "value.bias"));
        Tensor attn = Ops.attention(q, k, v, config.heads(), false);
        x = Ops.add(x, Ops.linear(attn, w.get(l + "attention.output.dense.weight"), w.get(l + "attention.output.dense.bias")));
        h = Ops.layerNorm(x, w.get(l + "layernorm_after.weight"), w.get(l + "layernorm_after.bias"), eps);
        h = Ops.gelu(Ops.linear(h, w.get(l + "intermediate.dense.weight"), w.get(l + "intermediate.dense.bias")));
        return Ops.add(x, Ops.linear(h, w.get(l + "output.dense.weight"), w.get(l + "output.dense.bias")));
    }

    /** Tokens [B, 1 + gh·gw, C] of one ViT layer → the stage's feature map at its resolution. */
    private Tensor reassemble(Tensor state, int stage, int gridH, int gridW) {
        int batch = state.dim(0), tokens = gridH * gridW;
        float[] grid = new float[batch * tokens * hidden];
        float[] cls = new float[batch * hidden];
        for (int b = 0; b < batch; b++) {
            int base = b * (tokens + 1) * hidden;
            System.arraycopy(state.data, base, cls, b * hidden, hidden);
            System.arraycopy(state.data, base + hidden, grid, b * tokens * hidden, tokens * hidden);
        }
        Tensor t = new Tensor(grid, batch, tokens, hidden);
        String r = "neck.reassemble_stage.";
        switch (config.readout()) {
            case "project" -> {
                // each token beside the CLS token, projected back to the hidden width
                float[] both = new float[batch * tokens * 2 * hidden];
                for (int b = 0; b < batch; b++) {
                    for (int i = 0; i < tokens; i++) {
                        int o = (b * tokens + i) * 2 * hidden;
                        System.arraycopy(grid, (b * tokens + i) * hidden, both, o, hidden);
                        System.arraycopy(cls, b * hidden, both, o + hidden, hidden);
                    }
                }
                String p = r + "readout_projects." + stage + ".0.";
                t = Ops.gelu(Ops.linear(new Tensor(both, batch, tokens, 2 * hidden), w.get(p + "weight"), w.get(p + "bias")));
            }
            case "add" -> {
                for (int b = 0; b < batch; b++) {
                    for (int i = 0; i < tokens; i++) {
                        for (int c = 0; c < hidden; c++) grid[(b * tokens + i) * hidden + c] += cls[b * hidden + c];
                    }
                }
            }
            default -> {
                // "ignore": the CLS token is dropped
            }
        }
        String l = r + "layers." + stage + ".";
        Tensor map = Ops.conv2d(Ops.fromTokens(t, gridH, gridW), w.get(l + "projection.weight"), w.get(l + "projection.bias"), 1, 0);
        double factor = config.reassembleFactors()[stage];
        if (factor > 1) return transposedConv(map, w.get(l + "resize.weight"), w.get(l + "resize.bias"), (int) factor);
        if (factor < 1) return Ops.conv2d(map, w.get(l + "resize.weight"), w.get(l + "resize.bias"), (int) Math.round(1 / factor), 1);
        return map;
    }

    /**
     * A transposed convolution whose kernel equals its stride (no overlap): each input pixel paints a k×k block of
     * every output channel, so the whole of it is one matrix product, tokens [B·H·W, Cin] × kernel [Cin, Cout·k·k].
     */
    private static Tensor transposedConv(Tensor x, Weight weight, Weight bias, int k) {
        int batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        if (weight.dim(0) != cin || weight.dim(2) != k || weight.dim(3) != k) {
            throw new JDiffusionException(weight.name() + " " + weight.shapeString() + " is not a " + k + "x" + k + " transposed conv from " + cin + " channels");
        }
        int cout = weight.dim(1), block = cout * k * k, oh = h * k, ow = wd * k;
        float[] stored = weight.toFloats(), rows = new float[block * cin];
        for (int ci = 0; ci < cin; ci++) {
            for (int j = 0; j < block; j++) rows[j * cin + ci] = stored[ci * block + j];
        }
        Tensor blocks = Ops.linear(Ops.toTokens(x), Weight.ofFloats(weight.name(), rows, block, cin), null);
        float[] b = bias.toFloats(), out = new float[batch * cout * oh * ow];
        for (int n = 0; n < batch; n++) {
            for (int y = 0; y < h; y++) {
                for (int xx = 0; xx < wd; xx++) {
                    int from = ((n * h + y) * wd + xx) * block;
                    for (int co = 0; co < cout; co++) {
                        for (int ky = 0; ky < k; ky++) {
                            int to = ((n * cout + co) * oh + y * k + ky) * ow + xx * k;
                            for (int kx = 0; kx < k; kx++) out[to + kx] = blocks.data[from + (co * k + ky) * k + kx] + b[co];
                        }
                    }
                }
            }
        }
        return new Tensor(out, batch, cout, oh, ow);
    }

    /** One fusion block: previous (coarser) result plus this stage's map, refined, ×2 upsampled, projected. */
    private Tensor fusion(Tensor previous, Tensor feature, String f) {
        Tensor x;
        if (previous == null) {
            x = feature;
        } else {
            Tensor residual = feature;
            if (residual.dim(2) != previous.dim(2) || residual.dim(3) != previous.dim(3)) {
                residual = Interpolation.bilinear(residual, previous.dim(2), previous.dim(3), false);
            }
            x = Ops.add(previous, residualUnit(residual, f + "residual_layer1."));
        }
        x = residualUnit(x, f + "residual_layer2.");
        x = Interpolation.bilinear(x, 2 * x.dim(2), 2 * x.dim(3), true);
        return Ops.conv2d(x, w.get(f + "projection.weight"), w.get(f + "projection.bias"), 1, 0);
    }

    /** Pre-activation residual conv unit: x + conv(relu(conv(relu(x)))). */
    private Tensor residualUnit(Tensor x, String r) {
        Tensor h = Ops.conv2d(relu(x), w.get(r + "convolution1.weight"), w.getOptional(r + "convolution1.bias"), 1, 1);
        h = Ops.conv2d(relu(h), w.get(r + "convolution2.weight"), w.getOptional(r + "convolution2.bias"), 1, 1);
        return Ops.add(x, h);
    }

    private Tensor head(Tensor x) {
        if (config.addProjection()) {
            x = relu(Ops.conv2d(x, w.get("head.projection.weight"), w.get("head.projection.bias"), 1, 1));
        }
        x = Ops.conv2d(x, w.get("head.head.0.weight"), w.get("head.head.0.bias"), 1, 1);
        x = Interpolation.bilinear(x, 2 * x.dim(2), 2 * x.dim(3), true);
        x = relu(Ops.conv2d(x, w.get("head.head.2.weight"), w.get("head.head.2.bias"), 1, 1));
        x = relu(Ops.conv2d(x, w.get("head.head.4.weight"), w.get("head.head.4.bias"), 1, 0));
        return x.reshape(x.dim(0), x.dim(2), x.dim(3));
    }

    private static Tensor relu(Tensor x) {
        float[] o = new float[x.numel()];
        for (int i = 0; i < o.length; i++) o[i] = Math.max(x.data[i], 0f);
        return new Tensor(o, x.shape);
    }
}
