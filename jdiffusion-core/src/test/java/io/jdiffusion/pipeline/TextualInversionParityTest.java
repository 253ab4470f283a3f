package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.TorchCheckpointWriter;
import io.jdiffusion.prompt.EmbeddingFile;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.ImageDelta;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The textual-inversion cases: an A1111-layout embedding bound to a token, used in the prompt, against
 * diffusers' load_textual_inversion run (the token expands to one slot per vector). Each case runs twice:
 * with the fixture's safetensors file and with the same vectors in A1111's pickled {@code .pt} layout.
 */
class TextualInversionParityTest {
    @TempDir
    Path dir;

    @TestFactory
    List<DynamicTest> everyTextualInversionCase() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : Fixtures.cases("textual_inversion")) {
            String id = c.get("id").asText();
            Path safetensors = Fixtures.require(c.get("embedding").asText());
            tests.add(DynamicTest.dynamicTest(id, () -> assertReference(c, safetensors)));
            tests.add(DynamicTest.dynamicTest(id + " (A1111 .pt)", () -> {
                Path pt = dir.resolve(id + ".pt");
                TorchCheckpointWriter.writeA1111Embedding(pt, id, SafeTensors.open(safetensors).get("emb_params"));
                assertReference(c, pt);
            }));
        }
        return tests;
    }

    private static void assertReference(JsonNode c, Path embedding) {
        Txt2ImgRequest base = ImagePipelinesParityTest.params(c);
        Txt2ImgRequest request = new Txt2ImgRequest(base.model(), null, base.prompt(), base.negativePrompt(),
                base.sampler(), base.steps(), base.cfgScale(), base.seed(), base.width(), base.height(), 1, 1,
                null, false, null, List.of(new EmbeddingFile(c.get("token").asText(), embedding)));
        GeneratedImage out = Txt2Img.run(ImagePipelinesParityTest.model(c), request, StepListener.NONE).getFirst();
        ImageDelta.between(out, Fixtures.require(c.get("image").asText())).assertWithinTolerance(c.get("id").asText());
    }
}
