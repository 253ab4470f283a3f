package io.jdiffusion.model.addon;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LorasTest {
    @TempDir
    Path dir;

    private static JsonNode loraCase(String id) {
        return Fixtures.cases("lora").stream().filter(c -> id.equals(c.get("id").asText())).findFirst().orElseThrow();
    }

    @Test
    void readsTheKohyaFileIntoItsModules() {
        for (String id : List.of("lora", "lora_full")) {
            JsonNode c = loraCase(id);
            LoraFile file = LoraFile.read(Fixtures.require(c.get("lora").asText()));
            long unet = file.modules().stream().filter(m -> m.network() == LoraFile.Network.UNET).count();
            long text = file.modules().stream().filter(m -> m.network() == LoraFile.Network.TEXT_ENCODER).count();
            assertThat(unet).as(id).isEqualTo(c.get("unet_modules").asLong());
            assertThat(text).as(id).isEqualTo(c.get("text_encoder_modules").asLong());
            for (LoraFile.Module m : file.modules()) {
                assertThat(m.rank()).isEqualTo(c.get("rank").asInt());
                assertThat(m.alpha()).isEqualTo((float) c.get("alpha").asDouble());
                assertThat(m.scale(1.0)).isEqualTo(c.get("alpha_over_rank").asDouble());
            }
        }
    }

    /** The case's formula, W' = W + weight · alpha/rank · up·down, in double precision, for every module. */
    @Test
    void mergedWeightsFollowTheFormulaAndTheCheckpointIsUntouched() {
        JsonNode c = loraCase("lora_full");
        StableDiffusionModel base = ModelLoader.load(Fixtures.tinySd15());
        double weight = c.get("weight").asDouble();
        LoraFile file = LoraFile.read(Fixtures.require(c.get("lora").asText()));
        StableDiffusionModel merged = Loras.apply(base, List.of(new LoraSpec(file.path(), weight)));

        int checked = 0;
        for (LoraFile.Module m : file.modules()) {
            Weights before = m.network() == LoraFile.Network.UNET ? base.unet() : base.textEncoder().weights();
            Weights after = m.network() == LoraFile.Network.UNET ? merged.unet() : merged.textEncoder().weights();
            String target = before.names().stream().filter(n -> n.endsWith(".weight")
                    && n.substring(0, n.length() - 7).replace('.', '_').equals(m.name())).findFirst().orElseThrow();
            float[] w = before.get(target).toFloats(), actual = after.get(target).toFloats();
            float[] up = m.up().toFloats(), down = m.down().toFloats();
            int rank = m.rank(), out = before.get(target).dim(0), in = w.length / out;
            double scale = weight * c.get("alpha").asDouble() / rank;
            double maxError = 0;
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    double delta = 0;
                    for (int r = 0; r < rank; r++) delta += (double) up[o * rank + r] * down[r * in + i];
                    maxError = Math.max(maxError, Math.abs(actual[o * in + i] - (w[o * in + i] + scale * delta)));
                }
            }
            assertThat(maxError).as(target).isLessThan(1e-5);
            assertThat(after.get(target).shape()).isEqualTo(before.get(target).shape());
            checked++;
        }
        assertThat(checked).isEqualTo(c.get("unet_modules").asInt() + c.get("text_encoder_modules").asInt());

        // layers the LoRA does not touch are the checkpoint's own tensors; the base model is unchanged
        assertThat(merged.unet().get("conv_in.weight")).isSameAs(base.unet().get("conv_in.weight"));
        StableDiffusionModel fresh = ModelLoader.load(Fixtures.tinySd15());
        for (String n : base.unet().names()) {
            assertThat(base.unet().get(n).data().mismatch(fresh.unet().get(n).data())).as(n).isEqualTo(-1L);
        }
    }

    @Test
    void weightZeroLeavesEveryLayerAsItWas() {
        StableDiffusionModel base = ModelLoader.load(Fixtures.tinySd15());
        StableDiffusionModel merged = Loras.apply(base, List.of(new LoraSpec(Fixtures.require("tiny-sd15-ref/lora-attn.safetensors"), 0.0)));
        for (String n : base.unet().names()) {
            assertThat(merged.unet().get(n).toFloats()).as(n).isEqualTo(base.unet().get(n).toFloats());
        }
    }

    @Test
    void diffusersAndPeftKeysMergeLikeKohyaKeys() throws IOException {
        // the same LoRA written with PEFT keys (unet.<module>.lora_A/lora_B, alpha per module) must merge identically
        Path kohya = Fixtures.require("tiny-sd15-ref/lora-full.safetensors");
        StableDiffusionModel base = ModelLoader.load(Fixtures.tinySd15());
        Map<String, Weight> peft = new LinkedHashMap<>();
        for (LoraFile.Module m : LoraFile.read(kohya).modules()) {
            Weights net = m.network() == LoraFile.Network.UNET ? base.unet() : base.textEncoder().weights();
            String module = net.names().stream().filter(n -> n.endsWith(".weight")
                    && n.substring(0, n.length() - 7).replace('.', '_').equals(m.name())).findFirst().orElseThrow();
            module = module.substring(0, module.length() - 7);
            String prefix = (m.network() == LoraFile.Network.UNET ? "unet." : "text_encoder.") + module;
            peft.put(prefix + ".lora_A.weight", m.down());
            peft.put(prefix + ".lora_B.weight", m.up());
            peft.put(prefix + ".alpha", Weight.ofFloats("alpha", new float[]{m.alpha()}));
        }
        Path peftFile = dir.resolve("peft.safetensors");
        SafeTensorsWriter.write(peftFile, peft, Map.of());

        StableDiffusionModel a = Loras.apply(base, List.of(new LoraSpec(kohya, 0.7)));
        StableDiffusionModel b = Loras.apply(base, List.of(new LoraSpec(peftFile, 0.7)));
        for (String n : a.unet().names()) assertThat(b.unet().get(n).toFloats()).as(n).isEqualTo(a.unet().get(n).toFloats());
        for (String n : a.textEncoder().weights().names()) {
            assertThat(b.textEncoder().weights().get(n).toFloats()).as(n).isEqualTo(a.textEncoder().weights().get(n).toFloats());
        }
    }

    @Test
    void twoLorasAddUp() {
        StableDiffusionModel base = ModelLoader.load(Fixtures.tinySd15());
        Path attn = Fixtures.require("tiny-sd15-ref/lora-attn.safetensors");
        StableDiffusionModel once = Loras.apply(base, List.of(new LoraSpec(attn, 1.0)));
        StableDiffusionModel twice = Loras.apply(base, List.of(new LoraSpec(attn, 0.5), new LoraSpec(attn, 0.5)));
        String q = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight";
        float[] w = once.unet().get(q).toFloats(), w2 = twice.unet().get(q).toFloats();
        for (int i = 0; i < w.length; i++) assertThat(w2[i]).isCloseTo(w[i], org.assertj.core.data.Offset.offset(1e-6f));
    }

    @Test
    void loraForAnotherArchitectureNamesTheMismatch() throws IOException {
        // an SD 1.x LoRA on the SD 2.x model: the layers exist, their widths differ
        Path lora = Fixtures.require("tiny-sd15-ref/lora-full.safetensors");
        StableDiffusionModel sd2 = ModelLoader.load(Fixtures.require("tiny-sd21-v.safetensors"));
        assertThatThrownBy(() -> Loras.apply(sd2, List.of(new LoraSpec(lora, 1.0)))).isInstanceOf(JDiffusionException.class)
                .satisfies(e -> assertThat(e.getMessage()).startsWith(lora + ": LoRA module 'lora_")
                        .contains("does not fit this Stable Diffusion 2.x model", "trained for sd_v1").doesNotContain("\n"));

        // an SDXL-style module (second text encoder) on an SD 1.x model
        Path sdxl = dir.resolve("sdxl.safetensors");
        SafeTensorsWriter.write(sdxl, Map.of(
                "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", Weight.ofFloats("d", new float[8], 2, 4),
                "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", Weight.ofFloats("u", new float[8], 4, 2)), Map.of());
        StableDiffusionModel sd1 = ModelLoader.load(Fixtures.tinySd15());
        assertThatThrownBy(() -> Loras.apply(sd1, List.of(new LoraSpec(sdxl, 1.0))))
                .hasMessageContaining("second text encoder, which only SDXL has");
    }

    @Test
    void sdxlLorasAdaptBothTextEncodersAndKeepTheRestOfTheModel() throws IOException {
        StableDiffusionModel sdxl = ModelLoader.load(Fixtures.require("tiny-sdxl"));
        var q1 = sdxl.textEncoder().weights().get("text_model.encoder.layers.0.self_attn.q_proj.weight");
        var q2 = sdxl.textEncoder2().weights().get("text_model.encoder.layers.0.self_attn.q_proj.weight");
        int w1 = q1.dim(1), w2 = q2.dim(1);
        float[] up1 = new float[w1], up2 = new float[w2], down1 = new float[w1], down2 = new float[w2];
        java.util.Arrays.fill(up1, 0.5f);
        java.util.Arrays.fill(down1, 0.25f);
        java.util.Arrays.fill(up2, -0.5f);
        java.util.Arrays.fill(down2, 0.125f);
        Path lora = dir.resolve("sdxl-lora.safetensors");
        SafeTensorsWriter.write(lora, Map.of(
                "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", Weight.ofFloats("d1", down1, 1, w1),
                "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", Weight.ofFloats("u1", up1, w1, 1),
                "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", Weight.ofFloats("d2", down2, 1, w2),
                "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", Weight.ofFloats("u2", up2, w2, 1)), Map.of());
        StableDiffusionModel merged = Loras.apply(sdxl, List.of(new LoraSpec(lora, 1.0)));
        assertThat(merged.textEncoder2()).as("SDXL keeps its second encoder").isNotNull();
        assertThat(merged.forceZerosForEmptyPrompt()).isEqualTo(sdxl.forceZerosForEmptyPrompt());
        // rank 1, no alpha: W' = W + up·down, the same shift in every element
        var m1 = merged.textEncoder().weights().get("text_model.encoder.layers.0.self_attn.q_proj.weight");
        var m2 = merged.textEncoder2().weights().get("text_model.encoder.layers.0.self_attn.q_proj.weight");
        assertThat((double) m1.get(3) - q1.get(3)).isCloseTo(0.125, org.assertj.core.data.Offset.offset(1e-3));
        assertThat((double) m2.get(3) - q2.get(3)).isCloseTo(-0.0625, org.assertj.core.data.Offset.offset(1e-3));
        // the other with* copies keep the second encoder too
        assertThat(sdxl.withUnetWeights(sdxl.unet()).textEncoder2()).isNotNull();
        assertThat(sdxl.withVae(sdxl.vaeConfig(), sdxl.vae()).textEncoder2()).isNotNull();
    }

    @Test
    void notALoraIsRefused() {
        Path model = Fixtures.require("tiny-sd15.safetensors");
        assertThatThrownBy(() -> LoraFile.read(model)).hasMessage(model + ": is a whole checkpoint, not a LoRA (use it as --model)");
    }

    @Test
    void lycorisIsRefusedByName() throws IOException {
        Path loha = dir.resolve("loha.safetensors");
        SafeTensorsWriter.write(loha, Map.of("lora_unet_conv_in.hada_w1_a", Weight.ofFloats("a", new float[4], 2, 2)), Map.of());
        assertThatThrownBy(() -> LoraFile.read(loha)).hasMessageContaining("LyCORIS LoHa");
    }

    @Test
    void specParsesFileAndWeight() {
        assertThat(LoraSpec.parse("a/b.safetensors:0.6")).isEqualTo(new LoraSpec(Path.of("a/b.safetensors"), 0.6));
        assertThat(LoraSpec.parse("a/b.safetensors")).isEqualTo(new LoraSpec(Path.of("a/b.safetensors"), 1.0));
        assertThat(LoraSpec.parse("C:\\loras\\x.safetensors")).isEqualTo(new LoraSpec(Path.of("C:\\loras\\x.safetensors"), 1.0));
        assertThat(LoraSpec.parse("x.pt:-1.5")).isEqualTo(new LoraSpec(Path.of("x.pt"), -1.5));
    }

    @Test
    void safetensorsMetadataNamesTheBase() {
        assertThat(SafeTensors.open(Fixtures.require("tiny-sd15-ref/lora-attn.safetensors")).metadata()).containsKey("ss_base_model_version");
    }
}
