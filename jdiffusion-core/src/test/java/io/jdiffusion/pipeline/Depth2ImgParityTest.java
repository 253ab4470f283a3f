package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * depth2img on the tiny SD 2 depth model against diffusers' StableDiffusionDepth2ImgPipeline: the depth channel
 * the UNet receives and the final image, from the depth map (as float tensor and as 16-bit PNG), and from the
 * depth the folder's DPT estimator computes; the folder and the single file alike.
 */
class Depth2ImgParityTest {

    private static JsonNode modelCase(String name) {
        return Fixtures.cases("model").stream().filter(m -> m.get("name").asText().equals(name)).findFirst().orElseThrow();
    }

    private static JsonNode depthCase(String id) {
        return Fixtures.cases("depth2img").stream().filter(c -> c.get("id").asText().equals(id)).findFirst().orElseThrow();
    }

    private static Txt2ImgRequest params(JsonNode c, Path model) {
        return new Txt2ImgRequest(model, null, c.get("prompt").asText(), c.get("negative_prompt").asText(),
                c.get("sampler").asText(), c.get("num_inference_steps").asInt(), c.get("guidance_scale").asDouble(),
                c.get("seed").asLong(), c.get("width").asInt(), c.get("height").asInt(), 1, 1, null, false);
    }

    private static Img2ImgRequest img2img(JsonNode c, Path model) {
        RgbImage init = RgbImage.read(Fixtures.require(c.get("init_image").asText()), "init");
        return new Img2ImgRequest(params(c, model), init, c.get("strength").asDouble(), ResizeMode.RESIZE);
    }

    @Test
    void depthMaskFromTheMapMatches() {
        JsonNode c = depthCase("depth2img_ddim");
        Tensor expected = Fixtures.tensor(Fixtures.tensors(c.get("tensor").asText()), "depth_mask");
        Tensor map = Fixtures.tensor(Fixtures.tensors(c.get("depth_map").asText()), "depth_map");
        Tensor png = DepthMaps.read(Fixtures.require(c.get("depth_map_png").asText()), "depth map");
        assertThat(png.shape).containsExactly(map.shape);
        for (Tensor depth : new Tensor[]{map, png}) {
            Tensor mask = DepthMaps.depthMask(depth, expected.dim(2), expected.dim(3));
            assertThat(mask.shape).containsExactly(expected.shape);
            double err = Fixtures.relativeError(mask.data, expected.data);
            System.out.printf("depth_mask relative error %.3g%n", err);
            assertThat(err).isLessThanOrEqualTo(1e-4);
        }
    }

    @Test
    void estimatedDepthMatches() {
        JsonNode c = depthCase("depth2img_ddim_estimated");
        SafeTensors ref = Fixtures.tensors(c.get("tensor").asText());
        Path folder = Fixtures.require(modelCase(c.get("model").asText()).get("diffusers_dir").asText());
        DepthMaps.Estimator estimator = Depth2Img.estimator(folder, null);
        RgbImage init = RgbImage.read(Fixtures.require(c.get("init_image").asText()), "init");
        Tensor pixels = DepthMaps.pixelValues(init, estimator.processor());
        assertThat(pixels.data).containsExactly(Fixtures.tensor(ref, "pixel_values").data);
        Tensor depth = estimator.estimate(init);
        double depthErr = Fixtures.relativeError(depth.data, Fixtures.tensor(ref, "predicted_depth").data);
        Tensor expectedMask = Fixtures.tensor(ref, "depth_mask");
        Tensor mask = DepthMaps.depthMask(depth, expectedMask.dim(2), expectedMask.dim(3));
        double maskErr = Fixtures.relativeError(mask.data, expectedMask.data);
        System.out.printf("estimated predicted_depth relative error %.3g, depth_mask %.3g%n", depthErr, maskErr);
        assertThat(depthErr).isLessThanOrEqualTo(1e-4);
        assertThat(maskErr).isLessThanOrEqualTo(1e-4);
    }

    @TestFactory
    List<DynamicTest> imagesMatchInBothLayouts() {
        JsonNode model = modelCase("tiny-sd2-depth");
        Path folder = Fixtures.require(model.get("diffusers_dir").asText());
        Path single = Fixtures.require(model.get("single_file").asText());
        List<DynamicTest> tests = new ArrayList<>();
        for (Path path : new Path[]{folder, single}) {
            LoadedModel loaded = new LoadedModel(ModelLoader.load(path, null));
            String layout = path == folder ? "folder" : "single file";
            JsonNode explicit = depthCase("depth2img_ddim");
            tests.add(DynamicTest.dynamicTest("depth map, " + layout, () -> {
                Tensor map = Fixtures.tensor(Fixtures.tensors(explicit.get("depth_map").asText()), "depth_map");
                check(loaded, explicit, new Depth2ImgRequest(img2img(explicit, path), map, null), layout);
            }));
            tests.add(DynamicTest.dynamicTest("16-bit depth PNG, " + layout, () -> {
                Tensor png = DepthMaps.read(Fixtures.require(explicit.get("depth_map_png").asText()), "depth map");
                check(loaded, explicit, new Depth2ImgRequest(img2img(explicit, path), png, null), layout);
            }));
            JsonNode estimated = depthCase("depth2img_ddim_estimated");
            tests.add(DynamicTest.dynamicTest("estimated depth, " + layout, () -> {
                // the single file carries no estimator: tiny-dpt (the same weights in a transformers folder) as --depth-model
                Path depthModel = path == folder ? null : Fixtures.require(Fixtures.cases("depth_estimator").getFirst().get("dir").asText());
                check(loaded, estimated, new Depth2ImgRequest(img2img(estimated, path), null, depthModel), layout);
            }));
        }
        return tests;
    }

    private static void check(LoadedModel model, JsonNode c, Depth2ImgRequest request, String layout) {
        GeneratedImage out = Depth2Img.run(model, request, StepListener.NONE).getFirst();
        ImageDelta.between(out, Fixtures.require(c.get("image").asText())).assertWithinTolerance(c.get("id").asText() + " " + layout);
    }
}
