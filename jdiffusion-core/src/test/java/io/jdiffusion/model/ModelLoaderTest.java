package io.jdiffusion.model;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.tensor.Weights;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.SdxlOriginalLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelLoaderTest {
    @TempDir
    Path dir;

    // ------------------------------------------------------------ single file == diffusers folder

    @ParameterizedTest(name = "{0} == {1}")
    @CsvSource({
            "tiny-sd15.safetensors, tiny-sd15",
            "tiny-sd21-v.safetensors, tiny-sd21-v",
            "tiny-sd2-depth.safetensors, tiny-sd2-depth"})
    void singleFileLoadsTheSameNetworksAsTheFolder(String file, String folder) {
        StableDiffusionModel single = ModelLoader.load(Fixtures.require(file));
        StableDiffusionModel diffusers = ModelLoader.load(Fixtures.require(folder));

        assertThat(single.layout()).isEqualTo(StableDiffusionModel.SINGLE_FILE);
        assertThat(diffusers.layout()).isEqualTo(StableDiffusionModel.DIFFUSERS_FOLDER);
        assertThat(single.family()).isEqualTo(diffusers.family());
        assertSameWeights("UNet", single.unet(), diffusers.unet());
        assertSameWeights("VAE", single.vae(), diffusers.vae());
        assertSameWeights("text encoder", single.textEncoder().weights(), diffusers.textEncoder().weights());

        assertThat(single.unetConfig()).isEqualTo(diffusers.unetConfig());
        assertThat(single.vaeConfig()).isEqualTo(diffusers.vaeConfig());
        assertThat(single.textEncoder().config()).isEqualTo(diffusers.textEncoder().config());
        assertThat(single.textEncoder().padToken()).isEqualTo(diffusers.textEncoder().padToken());
    }

    @Test
    void sdxlSingleFileLoadsTheSameNetworksAsTheFolder() {
        Path folder = Fixtures.require("tiny-sdxl");
        Path file = dir.resolve("tiny-sdxl.safetensors");
        SdxlOriginalLayout.write(folder, file);

        StableDiffusionModel single = ModelLoader.load(file);
        StableDiffusionModel diffusers = ModelLoader.load(folder);

        for (StableDiffusionModel m : new StableDiffusionModel[]{single, diffusers}) {
            assertThat(m.family()).isEqualTo(ModelFamily.SDXL);
            assertThat(m.forceZerosForEmptyPrompt()).isTrue();
            assertThat(m.scheduler().textOr("timestep_spacing", null)).isEqualTo("leading");
        }
        assertSameWeights("UNet", single.unet(), diffusers.unet());
        assertSameWeights("VAE", single.vae(), diffusers.vae());
        assertSameWeights("text encoder", single.textEncoder().weights(), diffusers.textEncoder().weights());
        assertSameWeights("text encoder 2", single.textEncoder2().weights(), diffusers.textEncoder2().weights());

        assertThat(single.unetConfig()).isEqualTo(diffusers.unetConfig());
        assertThat(single.vaeConfig()).isEqualTo(diffusers.vaeConfig());
        assertThat(single.textEncoder().config()).isEqualTo(diffusers.textEncoder().config());
        assertThat(single.textEncoder2().config()).isEqualTo(diffusers.textEncoder2().config());
        assertThat(single.textEncoder().padToken()).isEqualTo(diffusers.textEncoder().padToken()).isEqualTo("<|endoftext|>");
        assertThat(single.textEncoder2().padToken()).isEqualTo(diffusers.textEncoder2().padToken()).isEqualTo("!");
    }

    @Test
    void sdxlSingleFileTakesTheSecondEncodersAndThePipelinesConfigFromConfigDir() throws IOException {
        Path folder = Fixtures.require("tiny-sdxl");
        Path file = dir.resolve("tiny-sdxl.safetensors");
        SdxlOriginalLayout.write(folder, file);
        Path config = dir.resolve("config");
        Files.createDirectories(config.resolve("text_encoder_2"));
        Files.createDirectories(config.resolve("tokenizer_2"));
        Files.copy(folder.resolve("text_encoder_2/config.json"), config.resolve("text_encoder_2/config.json"));
        Files.writeString(config.resolve("tokenizer_2/tokenizer_config.json"), "{\"pad_token\": \"<|endoftext|>\"}");
        Files.writeString(config.resolve("model_index.json"), "{\"force_zeros_for_empty_prompt\": false}");

        StableDiffusionModel m = ModelLoader.load(file, config);
        assertThat(m.textEncoder2().config()).isEqualTo(ModelLoader.load(folder).textEncoder2().config());
        assertThat(m.textEncoder2().padToken()).isEqualTo("<|endoftext|>");
        assertThat(m.forceZerosForEmptyPrompt()).isFalse();
    }

    @Test
    void sdxlFolderReadsItsPipelineConfig() throws IOException {
        Path folder = dir.resolve("sdxl");
        copyFolder(Fixtures.require("tiny-sdxl"), folder);
        Path index = folder.resolve("model_index.json");
        Files.writeString(index, Files.readString(index).replace("\"force_zeros_for_empty_prompt\": true", "\"force_zeros_for_empty_prompt\": false"));
        StableDiffusionModel m = ModelLoader.load(folder);
        assertThat(m.family()).isEqualTo(ModelFamily.SDXL);
        assertThat(m.forceZerosForEmptyPrompt()).isFalse();
        assertThat(m.vaeConfig().scalingFactor()).isEqualTo(0.13025);
        assertThat(m.textEncoder2().config().projectionDim()).isPositive();
    }

    @Test
    void sdxlFolderWithoutTheFirstTextEncoderLoadsAsARefiner() throws IOException {
        Path folder = dir.resolve("refiner");
        copyFolder(Fixtures.require("tiny-sdxl"), folder);
        deleteFolder(folder.resolve("text_encoder"));
        deleteFolder(folder.resolve("tokenizer"));
        // while the index still names the first encoder, its folder is missing
        assertThatThrownBy(() -> ModelLoader.load(folder)).isInstanceOf(JDiffusionException.class)
                .hasMessage(folder + ": missing component folder 'text_encoder'");
        // the refiner's index: no first encoder or tokenizer
        Path index = folder.resolve("model_index.json");
        Files.writeString(index, Files.readString(index)
                .replaceAll("\"text_encoder\": \\[[^]]*]", "\"text_encoder\": [null, null]")
                .replaceAll("\"tokenizer\": \\[[^]]*]", "\"tokenizer\": [null, null]"));
        StableDiffusionModel m = ModelLoader.load(folder);
        assertThat(m.family()).isEqualTo(ModelFamily.SDXL);
        assertThat(m.isSdxlRefiner()).isTrue();
        assertThat(m.textEncoder()).isNull();
        assertThat(m.textEncoder2().config().projectionDim()).isPositive();
    }

    @Test
    void sdxlFileWithoutItsSecondTextEncoderIsRefused() throws IOException {
        Path file = dir.resolve("full.safetensors");
        SdxlOriginalLayout.write(Fixtures.require("tiny-sdxl"), file);
        LinkedHashMap<String, RawCheckpoint.Raw> tensors = RawCheckpoint.read(file);
        tensors.keySet().removeIf(n -> n.startsWith("conditioner.embedders.1."));
        Path broken = dir.resolve("one-encoder.safetensors");
        RawCheckpoint.write(broken, tensors);
        assertThatThrownBy(() -> ModelLoader.load(broken)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith(broken + ": ").hasMessageContaining("conditioner.embedders.1.model.");
    }

    @Test
    void sdxlFileWithAnUnknownTensorInTheSecondEncoderIsRefused() throws IOException {
        Path file = dir.resolve("full.safetensors");
        SdxlOriginalLayout.write(Fixtures.require("tiny-sdxl"), file);
        LinkedHashMap<String, RawCheckpoint.Raw> tensors = RawCheckpoint.read(file);
        String odd = "conditioner.embedders.1.model.transformer.resblocks.0.attn.gate";
        tensors.put(odd, RawCheckpoint.zeros("F16", 2, 4));
        Path broken = dir.resolve("odd.safetensors");
        RawCheckpoint.write(broken, tensors);
        assertThatThrownBy(() -> ModelLoader.load(broken)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("'" + odd + "'").hasMessageContaining("Stable Diffusion XL second text encoder");
    }

    /** Same names, and every tensor the same dtype, shape and bytes. */
    static void assertSameWeights(String network, Weights actual, Weights expected) {
        assertThat(actual.names()).as(network + " names").isEqualTo(expected.names());
        for (String name : expected.names()) {
            Weight a = actual.get(name), e = expected.get(name);
            assertThat(a.dtype()).as(network + " " + name).isEqualTo(e.dtype());
            assertThat(a.shape()).as(network + " " + name).isEqualTo(e.shape());
            assertThat(a.data().mismatch(e.data())).as(network + " " + name + " bytes").isEqualTo(-1L);
        }
    }

    @Test
    void sd1FileIsSd1WithQuickGeluAndEndOfTextPadding() {
        StableDiffusionModel m = ModelLoader.load(Fixtures.require("tiny-sd15.safetensors"));
        assertThat(m.family()).isEqualTo(ModelFamily.SD1);
        assertThat(m.textEncoder().config().hiddenAct()).isEqualTo("quick_gelu");
        assertThat(m.textEncoder().padToken()).isEqualTo("<|endoftext|>");
        assertThat(m.predictionType()).isEqualTo("epsilon");
        assertThat(m.scheduler()).isEqualTo(io.jdiffusion.sampling.SchedulerConfig.stableDiffusionDefault());
    }

    @Test
    void sd2FileDropsTheLastOpenClipBlockAndKeepsTheFinalNorm() {
        Path file = Fixtures.require("tiny-sd21-v.safetensors");
        long blocksInFile = SafeTensors.open(file).tensors().keySet().stream()
                .filter(n -> n.matches("cond_stage_model\\.model\\.transformer\\.resblocks\\.\\d+\\.ln_1\\.weight")).count();
        StableDiffusionModel m = ModelLoader.load(file);

        assertThat(m.family()).isEqualTo(ModelFamily.SD2);
        assertThat(m.textEncoder().config().numLayers()).isEqualTo(blocksInFile - 1);
        assertThat(m.textEncoder().weights().names())
                .noneMatch(n -> n.startsWith("text_model.encoder.layers." + (blocksInFile - 1) + "."))
                .contains("text_model.final_layer_norm.weight", "text_model.final_layer_norm.bias");
        assertThat(m.textEncoder().config().hiddenAct()).isEqualTo("gelu");
        assertThat(m.textEncoder().padToken()).isEqualTo("!");
        assertThat(m.unetConfig().useLinearProjection()).isTrue();
    }

    @Test
    void openClipFusedProjectionIsSplitIntoViewsOfTheFile() {
        Path file = Fixtures.require("tiny-sd21-v.safetensors");
        Weight fused = SafeTensors.open(file).get("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight");
        Weights text = ModelLoader.load(file).textEncoder().weights();
        float[] all = fused.toFloats();
        int third = all.length / 3;
        String[] parts = {"q_proj", "k_proj", "v_proj"};
        for (int i = 0; i < 3; i++) {
            float[] expected = java.util.Arrays.copyOfRange(all, i * third, (i + 1) * third);
            assertThat(text.get("text_model.encoder.layers.0.self_attn." + parts[i] + ".weight").toFloats()).isEqualTo(expected);
        }
    }

    @Test
    void inpaintingUNetHasNineInputChannels() {
        StableDiffusionModel m = ModelLoader.load(Fixtures.require("tiny-sd15-inpainting.safetensors"));
        assertThat(m.unetConfig().inChannels()).isEqualTo(9);
        assertThat(m.unetConfig().outChannels()).isEqualTo(4);
        assertThat(m.family()).isEqualTo(ModelFamily.SD1);
        assertThat(m.unet().get("conv_in.weight").shape()).containsExactly(32, 9, 3, 3);
    }

    @Test
    void depthUNetHasFiveInputChannelsAndIsSd2() {
        StableDiffusionModel m = ModelLoader.load(Fixtures.require("tiny-sd2-depth.safetensors"));
        assertThat(m.unetConfig().inChannels()).isEqualTo(5);
        assertThat(m.family()).isEqualTo(ModelFamily.SD2);
    }

    // ------------------------------------------------------------ --config

    @Test
    void configFolderOverridesWhatTheFileImplies() {
        Path folder = Fixtures.require("tiny-sd21-v");
        StableDiffusionModel m = ModelLoader.load(Fixtures.require("tiny-sd21-v.safetensors"), folder);
        StableDiffusionModel reference = ModelLoader.load(folder);
        assertThat(m.predictionType()).isEqualTo("v_prediction");
        assertThat(m.scheduler()).isEqualTo(reference.scheduler());
        assertThat(m.unetConfig()).isEqualTo(reference.unetConfig());
        assertSameWeights("text encoder", m.textEncoder().weights(), reference.textEncoder().weights());
    }

    @Test
    void configFolderMayHoldAnySubset() throws IOException {
        Files.createDirectories(dir.resolve("scheduler"));
        Files.writeString(dir.resolve("scheduler/scheduler_config.json"), "{\"prediction_type\": \"v_prediction\", \"beta_end\": 0.012}");
        StableDiffusionModel m = ModelLoader.load(Fixtures.require("tiny-sd15.safetensors"), dir);
        assertThat(m.predictionType()).isEqualTo("v_prediction");
        assertThat(m.unetConfig()).isEqualTo(ModelLoader.load(Fixtures.require("tiny-sd15")).unetConfig());
    }

    @Test
    void textConfigOverrideChoosesHowManyStoredLayersRun() throws IOException {
        Path file = Fixtures.require("tiny-sd21-v.safetensors");
        String base = Files.readString(Fixtures.require("tiny-sd21-v/text_encoder/config.json"));
        Files.createDirectories(dir.resolve("text_encoder"));
        int stored = ModelLoader.load(file).textEncoder().config().numLayers() + 1;

        Files.writeString(dir.resolve("text_encoder/config.json"), base.replaceAll("\"num_hidden_layers\": *\\d+", "\"num_hidden_layers\": " + stored));
        assertThat(ModelLoader.load(file, dir).textEncoder().config().numLayers()).isEqualTo(stored);

        Files.writeString(dir.resolve("text_encoder/config.json"), base.replaceAll("\"num_hidden_layers\": *\\d+", "\"num_hidden_layers\": " + (stored + 1)));
        assertThatThrownBy(() -> ModelLoader.load(file, dir)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("text_model.encoder.layers." + stored + ".").hasMessageContaining("missing");
    }

    @Test
    void configFolderWithNothingInItIsRefused() {
        assertThatThrownBy(() -> ModelLoader.load(Fixtures.require("tiny-sd15.safetensors"), dir))
                .isInstanceOf(JDiffusionException.class).hasMessageStartingWith(dir.toString());
        assertThatThrownBy(() -> ModelLoader.load(Fixtures.require("tiny-sd15.safetensors"), dir.resolve("absent")))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("absent");
    }

    @Test
    void predictionTypeOverride() {
        StableDiffusionModel m = ModelLoader.load(Fixtures.require("tiny-sd15.safetensors")).withPredictionType("v_prediction");
        assertThat(m.predictionType()).isEqualTo("v_prediction");
        assertThatThrownBy(() -> m.withPredictionType("x0")).isInstanceOf(JDiffusionException.class).hasMessageContaining("x0");
    }

    // ------------------------------------------------------------ other spellings of the same weights

    @Test
    void oldTransformersNamingAndInt64PositionIdsLoad() throws IOException {
        LinkedHashMap<String, RawCheckpoint.Raw> in = RawCheckpoint.read(Fixtures.require("tiny-sd15.safetensors"));
        LinkedHashMap<String, RawCheckpoint.Raw> out = new LinkedHashMap<>();
        in.forEach((k, v) -> out.put(k.replace("cond_stage_model.transformer.text_model.", "cond_stage_model.transformer."), v));
        out.put("cond_stage_model.transformer.embeddings.position_ids", RawCheckpoint.zeros("I64", 8, 1, 77));
        Path copy = dir.resolve("old-naming.safetensors");
        RawCheckpoint.write(copy, out);

        StableDiffusionModel m = ModelLoader.load(copy);
        StableDiffusionModel reference = ModelLoader.load(Fixtures.require("tiny-sd15"));
        assertSameWeights("text encoder", m.textEncoder().weights(), reference.textEncoder().weights());
    }

    /** transformers 5 writes CLIPTextModel folders without the text_model. prefix. */
    @Test
    void textEncoderSavedWithoutTheTextModelPrefixLoads() throws IOException {
        Path source = Fixtures.require("tiny-sd15");
        Path folder = dir.resolve("transformers5");
        copyFolder(source, folder);
        Path textFile = folder.resolve("text_encoder/model.safetensors");
        LinkedHashMap<String, RawCheckpoint.Raw> renamed = new LinkedHashMap<>();
        RawCheckpoint.read(textFile).forEach((k, v) -> renamed.put(k.replaceFirst("^text_model\\.", ""), v));
        assertThat(renamed.keySet()).contains("embeddings.token_embedding.weight").noneMatch(k -> k.startsWith("text_model."));
        Files.delete(textFile);
        RawCheckpoint.write(textFile, renamed);

        assertSameWeights("text encoder", ModelLoader.load(folder).textEncoder().weights(), ModelLoader.load(source).textEncoder().weights());
    }

    @Test
    void legacyVaeAttentionNamesInAFolderLoad() throws IOException {
        Path source = Fixtures.require("tiny-sd15");
        Path folder = dir.resolve("legacy");
        copyFolder(source, folder);
        Path vaeFile = folder.resolve("vae/diffusion_pytorch_model.safetensors");
        LinkedHashMap<String, RawCheckpoint.Raw> renamed = new LinkedHashMap<>();
        RawCheckpoint.read(vaeFile).forEach((k, v) -> renamed.put(k.replace(".to_q.", ".query.").replace(".to_k.", ".key.")
                .replace(".to_v.", ".value.").replace(".to_out.0.", ".proj_attn."), v));
        assertThat(renamed.keySet()).anyMatch(k -> k.contains(".proj_attn."));
        Files.delete(vaeFile);
        RawCheckpoint.write(vaeFile, renamed);

        assertSameWeights("VAE", ModelLoader.load(folder).vae(), ModelLoader.load(source).vae());
    }

    // ------------------------------------------------------------ refusals

    @Test
    void missingModelPath() {
        Path absent = dir.resolve("no-such-model.safetensors");
        assertThatThrownBy(() -> ModelLoader.load(absent)).isInstanceOf(JDiffusionException.class)
                .hasMessage(absent + ": no such file or directory");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "model.diffusion_model.input_blocks.1.0.in_layers.0.bias",
            "model.diffusion_model.output_blocks.5.2.conv.weight",
            "model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight",
            "model.diffusion_model.input_blocks.0.0.weight",
            "first_stage_model.decoder.up.0.block.2.conv2.weight",
            "first_stage_model.encoder.mid.attn_1.q.weight",
            "cond_stage_model.transformer.text_model.encoder.layers.2.mlp.fc1.bias",
            "cond_stage_model.transformer.text_model.final_layer_norm.weight"})
    void aFileMissingARequiredTensorIsRefusedNamingIt(String removed) throws IOException {
        LinkedHashMap<String, RawCheckpoint.Raw> tensors = RawCheckpoint.read(Fixtures.require("tiny-sd15.safetensors"));
        assertThat(tensors.remove(removed)).isNotNull();
        Path copy = dir.resolve("damaged.safetensors");
        RawCheckpoint.write(copy, tensors);

        assertThatThrownBy(() -> ModelLoader.load(copy)).isInstanceOf(JDiffusionException.class)
                .satisfies(e -> assertThat(e.getMessage()).startsWith(copy + ": ").contains("missing").doesNotContain("\n"));
    }

    @Test
    void missingTensorMessageNamesTheInternalName() throws IOException {
        LinkedHashMap<String, RawCheckpoint.Raw> tensors = RawCheckpoint.read(Fixtures.require("tiny-sd15.safetensors"));
        tensors.remove("model.diffusion_model.input_blocks.1.0.in_layers.0.bias");
        Path copy = dir.resolve("damaged.safetensors");
        RawCheckpoint.write(copy, tensors);
        assertThatThrownBy(() -> ModelLoader.load(copy))
                .hasMessage(copy + ": UNet tensor 'down_blocks.0.resnets.0.norm1.bias' is missing");
    }

    @Test
    void aWeightInADtypeWeCannotComputeWithIsRefusedByName() throws IOException {
        LinkedHashMap<String, RawCheckpoint.Raw> tensors = RawCheckpoint.read(Fixtures.require("tiny-sd15.safetensors"));
        String name = "model.diffusion_model.out.2.bias";
        RawCheckpoint.Raw f16 = tensors.get(name);
        tensors.put(name, RawCheckpoint.zeros("F64", 8, f16.shape()));
        Path copy = dir.resolve("f64.safetensors");
        RawCheckpoint.write(copy, tensors);
        assertThatThrownBy(() -> ModelLoader.load(copy)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining(copy.toString()).hasMessageContaining("'" + name + "'").hasMessageContaining("unsupported dtype F64");
    }

    @Test
    void anUnknownUNetTensorIsRefused() throws IOException {
        LinkedHashMap<String, RawCheckpoint.Raw> tensors = RawCheckpoint.read(Fixtures.require("tiny-sd15.safetensors"));
        tensors.put("model.diffusion_model.label_emb.0.0.weight", RawCheckpoint.zeros("F16", 2, 4, 4));
        Path copy = dir.resolve("unclip.safetensors");
        RawCheckpoint.write(copy, tensors);
        assertThatThrownBy(() -> ModelLoader.load(copy)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("'model.diffusion_model.label_emb.0.0.weight'").hasMessageContaining("UNet");
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
            "model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight                   | Stable Diffusion 3",
            "double_blocks.0.img_attn.norm.key_norm.scale                                   | Flux",
            "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight                  | LoRA",
            "some.other.network.weight                                                      | unrecognised checkpoint"})
    void otherFamiliesAreNamedInOneLine(String key, String named) throws IOException {
        Map<String, RawCheckpoint.Raw> tensors = new LinkedHashMap<>();
        tensors.put(key, RawCheckpoint.zeros("F16", 2, 4, 4));
        if (!named.equals("unrecognised checkpoint")) {
            // beside tensors that would otherwise pass for an SD UNet and VAE
            tensors.put("model.diffusion_model.input_blocks.0.0.weight", RawCheckpoint.zeros("F16", 2, 4, 4, 3, 3));
            tensors.put("first_stage_model.decoder.conv_in.weight", RawCheckpoint.zeros("F16", 2, 4, 4, 3, 3));
        }
        Path file = dir.resolve("other.safetensors");
        RawCheckpoint.write(file, tensors);
        assertThatThrownBy(() -> ModelLoader.load(file)).isInstanceOf(JDiffusionException.class)
                .satisfies(e -> assertThat(e.getMessage()).startsWith(file + ": ").contains(named).doesNotContain("\n"));
    }

    @Test
    void folderMissingAComponentIsRefused() throws IOException {
        Path folder = dir.resolve("partial");
        copyFolder(Fixtures.require("tiny-sd15"), folder);
        deleteFolder(folder.resolve("vae"));
        assertThatThrownBy(() -> ModelLoader.load(folder)).isInstanceOf(JDiffusionException.class)
                .hasMessage(folder + ": missing component folder 'vae'");
    }

    @Test
    void folderWithoutModelIndexIsRefused() {
        assertThatThrownBy(() -> ModelLoader.load(dir)).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("model_index.json");
    }

    @Test
    void ckptLoadsTheSameModelAsItsSafetensorsTwin() {
        com.fasterxml.jackson.databind.JsonNode c = Fixtures.cases("ckpt").getFirst();
        StableDiffusionModel ckpt = ModelLoader.load(Fixtures.require(c.get("file").asText()));
        StableDiffusionModel twin = ModelLoader.load(Fixtures.require(c.get("same_weights_as").asText()));
        // same configs and the same bytes in every network: every case of the model gives the same result
        assertThat(ckpt.family()).isEqualTo(twin.family());
        assertThat(ckpt.layout()).isEqualTo(StableDiffusionModel.SINGLE_FILE);
        assertThat(ckpt.unetConfig()).isEqualTo(twin.unetConfig());
        assertThat(ckpt.vaeConfig()).isEqualTo(twin.vaeConfig());
        assertThat(ckpt.textEncoder().config()).isEqualTo(twin.textEncoder().config());
        assertThat(ckpt.textEncoder().padToken()).isEqualTo(twin.textEncoder().padToken());
        assertThat(ckpt.scheduler()).isEqualTo(twin.scheduler());
        assertSameWeights("UNet", ckpt.unet(), twin.unet());
        assertSameWeights("VAE", ckpt.vae(), twin.vae());
        assertSameWeights("text encoder", ckpt.textEncoder().weights(), twin.textEncoder().weights());
    }

    @Test
    void ckptIsRecognisedByContentWhateverTheExtension() throws IOException {
        Path renamed = dir.resolve("model.weights");
        Files.copy(Fixtures.require("tiny-sd15.ckpt"), renamed);
        assertThat(ModelLoader.load(renamed).unet().size()).isEqualTo(ModelLoader.load(Fixtures.require("tiny-sd15.ckpt")).unet().size());
    }

    @Test
    void diffusersFolderWithPytorchBinWeightsLoads() throws IOException {
        // older folders hold diffusion_pytorch_model.bin / model.bin: the same tensors, pickled
        Path folder = dir.resolve("bin-folder");
        copyFolder(Fixtures.require("tiny-sd15"), folder);
        Path unet = folder.resolve("unet");
        Path st = unet.resolve("diffusion_pytorch_model.safetensors");
        io.jdiffusion.io.TorchCheckpointWriter.writeStateDict(unet.resolve("diffusion_pytorch_model.bin"), SafeTensors.open(st).tensors());
        Files.delete(st);
        assertSameWeights("UNet", ModelLoader.load(folder).unet(), ModelLoader.load(Fixtures.require("tiny-sd15")).unet());
    }

    @Test
    void malformedSafetensorsIsRefusedByTheLoaderToo() {
        Path bad = Fixtures.require("untrusted/bad-offsets.safetensors");
        assertThatThrownBy(() -> ModelLoader.load(bad)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith(bad + ": ");
    }

    // ------------------------------------------------------------ info

    @Test
    void describeSaysWhatWasLoaded() {
        Path file = Fixtures.require("tiny-sd21-v.safetensors");
        StableDiffusionModel m = ModelLoader.load(file);
        String text = ModelInfo.describe(m);
        UNetConfig u = m.unetConfig();
        assertThat(text).contains(file.toString(), "single file", "Stable Diffusion 2.x", "epsilon",
                u.inChannels() + " in", java.util.Arrays.toString(u.blockOutChannels()), "heads " + java.util.Arrays.toString(u.headsPerBlock()),
                "context " + u.crossAttentionDim(), "linear projection", "scaling factor " + m.vaeConfig().scalingFactor(),
                m.textEncoder().config().numLayers() + " layers", "gelu", "pad token \"!\"", "F16");

        long inFile = SafeTensors.open(file).tensors().values().stream().mapToLong(Weight::numel).sum();
        long droppedBlock = m.textEncoder().weights().names().stream().filter(n -> n.startsWith("text_model.encoder.layers.0."))
                .mapToLong(n -> m.textEncoder().weights().get(n).numel()).sum();
        long unused = Stream.of("text_projection", "logit_scale")
                .mapToLong(n -> SafeTensors.open(file).get("cond_stage_model.model." + n).numel()).sum();
        long counted = ModelInfo.parameterCount(m.unet()) + ModelInfo.parameterCount(m.vae())
                + ModelInfo.parameterCount(m.textEncoder().weights());
        assertThat(counted).isEqualTo(inFile - droppedBlock - unused);
    }

    @Test
    void describeOfAFolderShowsItsPredictionType() {
        String text = ModelInfo.describe(ModelLoader.load(Fixtures.require("tiny-sd21-v")));
        assertThat(text).contains("diffusers folder", "v_prediction");
    }

    @Test
    void describeNamesSdxlAndBothTextEncoders() {
        StableDiffusionModel m = ModelLoader.load(Fixtures.require("tiny-sdxl"));
        String text = ModelInfo.describe(m);
        ClipTextConfig second = m.textEncoder2().config();
        assertThat(text).contains("Stable Diffusion XL", "text encoder 1", "text encoder 2", "projection " + second.projectionDim(),
                "pad token \"<|endoftext|>\"", "pad token \"!\"", "scaling factor 0.13025",
                "context " + m.textEncoder().config().hiddenSize() + " + " + second.hiddenSize(), "an empty negative prompt is zeros");
        long all = Stream.of(m.unet(), m.vae(), m.textEncoder().weights(), m.textEncoder2().weights())
                .mapToLong(ModelInfo::parameterCount).sum();
        assertThat(ModelInfo.parameterCount(m.textEncoder2().weights())).isPositive();
        assertThat(text).contains("total").contains(String.format(java.util.Locale.ROOT, "%.2fM parameters", all / 1e6));
    }

    // ------------------------------------------------------------ helpers

    private static void copyFolder(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : paths.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target);
            }
        }
        try (Stream<Path> paths = Files.walk(to)) {
            for (Path p : paths.toList()) p.toFile().setWritable(true);
        }
    }

    private static void deleteFolder(Path folder) throws IOException {
        try (Stream<Path> paths = Files.walk(folder)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
