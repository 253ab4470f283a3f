package io.jdiffusion.pipeline;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.model.ModelLoader;
import io.jdiffusion.model.StableDiffusionModel;
import io.jdiffusion.model.clip.ClipTextEncoder;
import io.jdiffusion.prompt.EmbeddingFile;
import io.jdiffusion.prompt.Embeddings;
import io.jdiffusion.prompt.PromptEmbedding;
import io.jdiffusion.prompt.PromptEncoder;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * SDXL with the prompt language (one {@link PromptEncoder} per text encoder) and SDXL in the image pipelines,
 * whose UNet takes the same added conditioning (pooled text, size/crop time ids) as in txt2img.
 */
class SdxlPromptsAndImagesTest {
    @TempDir
    Path dir;

    private static StableDiffusionModel tinySdxl() {
        return ModelLoader.load(Fixtures.require("tiny-sdxl"));
    }

    @Test
    void theContextIsEachEncodersOwnPromptEncodingSideBySide() {
        StableDiffusionModel model = tinySdxl();
        int c1 = model.textEncoder().config().hiddenSize(), c2 = model.textEncoder2().config().hiddenSize();
        Path file = dir.resolve("sdxl-embedding.safetensors");
        SafeTensorsWriter.write(file, Map.of("clip_l", Weight.ofFloats("clip_l", ramp(2 * c1, 0.01f), 2, c1),
                "clip_g", Weight.ofFloats("clip_g", ramp(2 * c2, -0.02f), 2, c2)));
        Embeddings embeddings = Embeddings.load(List.of(new EmbeddingFile("<toy>", file)));
        String prompt = "a (red:1.3) <toy> on a table, " + "horse ".repeat(80);

        PromptEmbedding both = new SdxlConditioning(model).encode(prompt, embeddings);
        PromptEmbedding first = PromptEncoder.of(model.textEncoder(), "clip_l", model.source())
                .encode(prompt, embeddings, ClipTextEncoder.Output::penultimateHiddenState);
        PromptEmbedding second = PromptEncoder.of(model.textEncoder2(), "clip_g", model.source())
                .encode(prompt, embeddings, ClipTextEncoder.Output::penultimateHiddenState);
        int tokens = first.context().dim(1);
        assertThat(tokens).as("two 77-token chunks").isEqualTo(154);
        assertThat(both.context().shape).containsExactly(1, tokens, c1 + c2);
        for (int t = 0; t < tokens; t++) {
            int row = t * (c1 + c2);
            assertThat(Arrays.copyOfRange(both.context().data, row, row + c1))
                    .containsExactly(Arrays.copyOfRange(first.context().data, t * c1, (t + 1) * c1));
            assertThat(Arrays.copyOfRange(both.context().data, row + c1, row + c1 + c2))
                    .containsExactly(Arrays.copyOfRange(second.context().data, t * c2, (t + 1) * c2));
        }
        assertThat(both.pooled().data).containsExactly(second.pooled().data);
        // the embedding is used: without it the same text encodes differently
        assertThat(new SdxlConditioning(model).encode(prompt).context().data).isNotEqualTo(both.context().data);
    }

    @Test
    void thePooledEmbeddingIsTheFirstChunks() {
        SdxlConditioning sdxl = new SdxlConditioning(tinySdxl());
        PromptEmbedding twoChunks = sdxl.encode("horse ".repeat(100));
        assertThat(twoChunks.context().dim(1)).isEqualTo(154);
        assertThat(twoChunks.pooled().data).containsExactly(sdxl.encode("horse ".repeat(75)).pooled().data);
    }

    @Test
    void aOneEncoderEmbeddingOfTheWrongWidthIsRefused() {
        StableDiffusionModel model = tinySdxl();
        int c1 = model.textEncoder().config().hiddenSize();
        Path file = dir.resolve("sd15.safetensors");
        SafeTensorsWriter.write(file, Map.of("emb_params", Weight.ofFloats("emb_params", new float[c1], 1, c1)));
        Embeddings embeddings = Embeddings.load(List.of(new EmbeddingFile("sd15", file)));
        assertThatThrownBy(() -> new SdxlConditioning(model).encode("a sd15 photo", embeddings))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("'sd15'").hasMessageContaining(c1 + " wide");
    }

    private static Txt2ImgRequest params(Path model, SizeConditioning sizes) {
        return new Txt2ImgRequest(model, null, "a photograph of an astronaut riding a horse", "blurry", "euler", 3,
                5.0, 9, 64, 64, 1, 1, null, false, sizes, List.of());
    }

    @Test
    void img2imgAndInpaintingTakeSdxlsAddedConditioning() {
        Path folder = Fixtures.require("tiny-sdxl");
        LoadedModel model = new LoadedModel(ModelLoader.load(folder));
        RgbImage init = RgbImage.read(Fixtures.require("tiny-sd15-ref/init.png"), "init");
        RgbImage mask = RgbImage.read(Fixtures.require("tiny-sd15-ref/mask.png"), "mask");
        SizeConditioning small = new SizeConditioning(16, 16, 0, 0, 64, 64);

        byte[] img2img = Img2Img.run(model, new Img2ImgRequest(params(folder, null), init, 0.8, ResizeMode.RESIZE),
                StepListener.NONE).getFirst().rgb();
        byte[] img2imgSmall = Img2Img.run(model, new Img2ImgRequest(params(folder, small), init, 0.8, ResizeMode.RESIZE),
                StepListener.NONE).getFirst().rgb();
        assertThat(img2img).hasSize(64 * 64 * 3).isNotEqualTo(init.rgb());
        assertThat(img2imgSmall).as("the time ids reach the UNet").isNotEqualTo(img2img);

        InpaintRequest inpaint = new InpaintRequest(params(folder, null), init, mask, 1.0, ResizeMode.RESIZE, false, 0, true);
        GeneratedImage out = Inpaint.run(model, inpaint, StepListener.NONE).getFirst();
        byte[] m = mask.luminance();
        int repainted = 0;
        for (int p = 0; p < m.length; p++) {
            for (int c = 0; c < 3; c++) {
                if ((m[p] & 0xff) == 0) assertThat(out.rgb()[3 * p + c]).isEqualTo(init.rgb()[3 * p + c]);
                else if (out.rgb()[3 * p + c] != init.rgb()[3 * p + c]) repainted++;
            }
        }
        assertThat(repainted).isPositive();
    }

    private static float[] ramp(int n, float step) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) Math.sin(i * step * 10) * 0.5f;
        return v;
    }
}
