package io.jdiffusion.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.bench.OriginalLayout.ClipSpec;
import io.jdiffusion.bench.OriginalLayout.OpenClipSpec;
import io.jdiffusion.bench.OriginalLayout.TensorSpec;
import io.jdiffusion.bench.OriginalLayout.UNetSpec;
import io.jdiffusion.bench.OriginalLayout.VaeSpec;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.Json;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The generated original-layout key sets: at the tiny fixtures' widths they are exactly the fixtures'
 * single files (the reference wrote those with the original code's naming), at full size they hold the
 * same names (plus the shortcuts that only exist where a level changes width) and load through the real
 * loader into the published architectures.
 */
class OriginalLayoutTest {

    @TempDir
    Path dir;

    // ---------------------------------------------------------------- tiny widths = the fixture files

    @Test
    void tinySd15LayoutIsExactlyTheFixtureFile() {
        OriginalLayout tiny = new OriginalLayout()
                .unet("model.diffusion_model.", unetSpec(config("tiny-sd15/unet/config.json")))
                .vae("first_stage_model.", vaeSpec(config("tiny-sd15/vae/config.json")))
                .clip("cond_stage_model.transformer.", clipSpec(config("tiny-sd15/text_encoder/config.json")));

        assertThat(shapes(tiny)).isEqualTo(shapes(SafeTensors.open(Fixtures.require("tiny-sd15.safetensors"))));
    }

    @Test
    void tinySd21LayoutIsExactlyTheFixtureFile() {
        JsonNode text = config("tiny-sd21-v/text_encoder/config.json");
        OriginalLayout tiny = new OriginalLayout()
                .unet("model.diffusion_model.", unetSpec(config("tiny-sd21-v/unet/config.json")))
                .vae("first_stage_model.", vaeSpec(config("tiny-sd21-v/vae/config.json")))
                // the single file holds one block more than the model runs (SD 2.x reads the penultimate one)
                .openClip("cond_stage_model.model.", new OpenClipSpec(text.get("vocab_size").asInt(),
                        text.get("max_position_embeddings").asInt(), text.get("hidden_size").asInt(),
                        text.get("num_hidden_layers").asInt() + 1, text.get("intermediate_size").asInt(),
                        text.get("projection_dim").asInt()));

        assertThat(shapes(tiny)).isEqualTo(shapes(SafeTensors.open(Fixtures.require("tiny-sd21-v.safetensors"))));
    }

    // ---------------------------------------------------------------- full size

    @Test
    void fullSd15HasTheFixtureNamesPlusShortcutsWhereWidthsChange() {
        // the block counts are the real ones in the tiny model but for the text encoder's layers (4 of 12)
        Set<String> full = withoutTextLayerNumbers(shapes(Arch.SD15.layout()).keySet());
        Set<String> tiny = withoutTextLayerNumbers(shapes(SafeTensors.open(Fixtures.require("tiny-sd15.safetensors"))).keySet());

        assertThat(full).containsAll(tiny);
        Set<String> extra = new TreeSet<>(full);
        extra.removeAll(tiny);
        // the tiny model widens once on the way down (32, 32, 64, 64) where SD 1.5 widens twice (320, 640,
        // 1280, 1280): one more 1×1 shortcut in the UNet's input blocks and in each VAE half; SD 1.x files
        // also keep the text model's position_ids buffer
        assertThat(extra).allMatch(n -> n.matches(".*\\.(skip_connection|nin_shortcut)\\.(weight|bias)|.*\\.position_ids"), "shortcut or buffer");
        assertThat(extra).containsExactlyInAnyOrder(
                "model.diffusion_model.input_blocks.4.0.skip_connection.weight",
                "model.diffusion_model.input_blocks.4.0.skip_connection.bias",
                "first_stage_model.encoder.down.1.block.0.nin_shortcut.weight",
                "first_stage_model.encoder.down.1.block.0.nin_shortcut.bias",
                "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight",
                "first_stage_model.decoder.up.0.block.0.nin_shortcut.bias",
                "cond_stage_model.transformer.text_model.embeddings.position_ids");
    }

    @Test
    void fullSd15LoadsAsTheV1InferenceConfig() {
        StableDiffusionModel m = loadZeros(Arch.SD15);

        var unet = m.unetConfig();
        assertThat(unet.blockOutChannels()).containsExactly(320, 640, 1280, 1280);
        assertThat(unet.layersPerBlock()).isEqualTo(2);
        assertThat(unet.downAttention()).containsExactly(true, true, true, false);
        assertThat(unet.upAttention()).containsExactly(false, true, true, true);
        assertThat(unet.headsPerBlock()).containsExactly(8, 8, 8, 8);
        assertThat(unet.crossAttentionDim()).isEqualTo(768);
        assertThat(unet.useLinearProjection()).isFalse();
        assertThat(m.vaeConfig().blockOutChannels()).containsExactly(128, 256, 512, 512);
        assertThat(m.vaeConfig().latentChannels()).isEqualTo(4);
        assertThat(m.textEncoder().config().hiddenSize()).isEqualTo(768);
        assertThat(m.textEncoder().config().numLayers()).isEqualTo(12);
        assertThat(m.textEncoder().config().intermediateSize()).isEqualTo(3072);
        new LoadedModel(m); // every network builds: all shapes fit
    }

    @Test
    void fullSd21LoadsAsTheV2InferenceConfig() {
        StableDiffusionModel m = loadZeros(Arch.SD21);

        var unet = m.unetConfig();
        assertThat(unet.blockOutChannels()).containsExactly(320, 640, 1280, 1280);
        assertThat(unet.headsPerBlock()).containsExactly(5, 10, 20, 20); // 64 channels per head
        assertThat(unet.crossAttentionDim()).isEqualTo(1024);
        assertThat(unet.useLinearProjection()).isTrue();
        assertThat(m.textEncoder().config().hiddenSize()).isEqualTo(1024);
        assertThat(m.textEncoder().config().numLayers()).isEqualTo(23);
        assertThat(m.textEncoder().config().hiddenAct()).isEqualTo("gelu");
        new LoadedModel(m);
    }

    /**
     * Parameter counts as diffusers reports them for the published models (UNet2DConditionModel,
     * AutoencoderKL, CLIPTextModel): an independent check of every shape at once.
     */
    @Test
    void parameterCountsAreThePublishedOnes() {
        assertThat(parameters(Arch.SD15, "model.diffusion_model.")).isEqualTo(859_520_964L);
        assertThat(parameters(Arch.SD15, "first_stage_model.")).isEqualTo(83_653_863L);
        assertThat(parameters(Arch.SD15, "cond_stage_model.")).isEqualTo(123_060_480L);
        assertThat(parameters(Arch.SD21, "model.diffusion_model.")).isEqualTo(865_910_724L);
        assertThat(parameters(Arch.SDXL, "model.diffusion_model.")).isEqualTo(2_567_463_684L);
        assertThat(parameters(Arch.SDXL, "first_stage_model.")).isEqualTo(83_653_863L);
    }

    @Test
    void everyNameIsUnique() {
        for (Arch a : Arch.values()) {
            var names = a.layout().tensors().stream().map(TensorSpec::name).toList();
            assertThat(new TreeSet<>(names)).as(a.id).hasSameSizeAs(names);
        }
    }

    // ---------------------------------------------------------------- helpers

    private static Set<String> withoutTextLayerNumbers(Set<String> names) {
        Set<String> out = new TreeSet<>();
        for (String n : names) out.add(n.replaceFirst("\\.encoder\\.layers\\.\\d+\\.", ".encoder.layers.N."));
        return out;
    }

    private StableDiffusionModel loadZeros(Arch arch) {
        Path file = dir.resolve(arch.id + ".safetensors");
        RandomCheckpoint.writeZeros(file, arch.layout().tensors());
        return ModelLoader.load(file);
    }

    /** Parameters (floating-point elements) under a prefix; the int64 position_ids buffer is no parameter. */
    private static long parameters(Arch arch, String prefix) {
        return arch.layout().tensors().stream()
                .filter(t -> t.name().startsWith(prefix) && !t.dtype().equals("I64"))
                .mapToLong(TensorSpec::numel).sum();
    }

    private static JsonNode config(String relative) {
        return Json.read(Fixtures.require(relative));
    }

    /** A diffusers UNet config in the original's terms: a level has a transformer where its down block cross-attends. */
    private static UNetSpec unetSpec(JsonNode c) {
        int[] channels = Json.ints(c, "block_out_channels");
        String[] down = Json.strings(c, "down_block_types");
        int[] perLevel = Json.intsOr(c, "transformer_layers_per_block", channels.length, 1);
        int[] depth = new int[channels.length];
        for (int i = 0; i < depth.length; i++) depth[i] = down[i].startsWith("CrossAttn") ? perLevel[i] : 0;
        return new UNetSpec(c.get("in_channels").asInt(), c.get("out_channels").asInt(), channels,
                c.get("layers_per_block").asInt(), depth, perLevel[perLevel.length - 1],
                c.get("cross_attention_dim").asInt(), c.get("use_linear_projection").asBoolean(), 0);
    }

    private static VaeSpec vaeSpec(JsonNode c) {
        return new VaeSpec(c.get("in_channels").asInt(), Json.ints(c, "block_out_channels"),
                c.get("layers_per_block").asInt(), c.get("latent_channels").asInt());
    }

    /** The tiny files were saved without the position_ids buffer. */
    private static ClipSpec clipSpec(JsonNode c) {
        return new ClipSpec(c.get("vocab_size").asInt(), c.get("max_position_embeddings").asInt(),
                c.get("hidden_size").asInt(), c.get("num_hidden_layers").asInt(), c.get("intermediate_size").asInt(), false);
    }

    private static Map<String, String> shapes(OriginalLayout layout) {
        Map<String, String> out = new TreeMap<>();
        for (TensorSpec t : layout.tensors()) out.put(t.name(), t.dtype() + Arrays.toString(t.shape()));
        return out;
    }

    private static Map<String, String> shapes(SafeTensors file) {
        Map<String, String> out = new TreeMap<>();
        for (Weight w : file.tensors().values()) out.put(w.name(), w.dtype() + Arrays.toString(w.shape()));
        file.unreadable().forEach((name, dtype) -> out.put(name, dtype + "?"));
        return out;
    }
}
