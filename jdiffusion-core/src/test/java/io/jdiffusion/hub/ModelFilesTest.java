package io.jdiffusion.hub;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.model.Json;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The files a download takes for a depth model: its DPT estimator and processor too, as depth2img needs them, and
 * of each transformers network one weights file, not also its .bin twin.
 */
class ModelFilesTest {

    /** A model_index.json with the txt2img components and these others ("name":[library, class] pairs). */
    private static JsonNode index(String pipeline, String others) throws Exception {
        return Json.MAPPER.readTree("{\"_class_name\":\"" + pipeline + "\",\"unet\":[\"diffusers\",\"UNet2DConditionModel\"],"
                + "\"vae\":[\"diffusers\",\"AutoencoderKL\"],\"text_encoder\":[\"transformers\",\"CLIPTextModel\"],"
                + "\"tokenizer\":[\"transformers\",\"CLIPTokenizer\"],\"scheduler\":[\"diffusers\",\"PNDMScheduler\"]," + others + "}");
    }

    private static final List<String> COMMON = List.of("model_index.json", "unet/config.json",
            "unet/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
            "text_encoder/config.json", "text_encoder/model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt",
            "scheduler/scheduler_config.json");

    @Test
    void aDepthModelBringsItsEstimatorAndProcessor() throws Exception {
        JsonNode index = index("StableDiffusionDepth2ImgPipeline", "\"depth_estimator\":[\"transformers\",\"DPTForDepthEstimation\"],"
                + "\"feature_extractor\":[\"transformers\",\"DPTImageProcessor\"]");
        List<String> files = new java.util.ArrayList<>(COMMON);
        // transformers' .bin beside the safetensors is the same network: it stays on the Hub
        files.addAll(List.of("text_encoder/pytorch_model.bin", "depth_estimator/config.json", "depth_estimator/model.safetensors", "depth_estimator/pytorch_model.bin",
                "feature_extractor/preprocessor_config.json", "512-depth-ema.safetensors"));

        List<String> expected = new java.util.ArrayList<>(COMMON);
        expected.addAll(List.of("depth_estimator/config.json", "depth_estimator/model.safetensors",
                "feature_extractor/preprocessor_config.json"));
        assertThat(ModelFiles.select(files, index)).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void theSafetyCheckersProcessorStaysOnTheHub() throws Exception {
        JsonNode index = index("StableDiffusionPipeline", "\"safety_checker\":[\"stable_diffusion\",\"StableDiffusionSafetyChecker\"],"
                + "\"feature_extractor\":[\"transformers\",\"CLIPImageProcessor\"]");
        List<String> files = new java.util.ArrayList<>(COMMON);
        files.addAll(List.of("feature_extractor/preprocessor_config.json", "safety_checker/config.json", "safety_checker/model.safetensors"));

        assertThat(ModelFiles.select(files, index)).containsExactlyInAnyOrderElementsOf(COMMON);
    }
}
