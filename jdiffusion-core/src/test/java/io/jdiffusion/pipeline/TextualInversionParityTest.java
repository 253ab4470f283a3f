package io.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.prompt.EmbeddingFile;
import io.jdiffusion.sampling.StepListener;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * The textual-inversion cases: an A1111-layout embedding bound to a token, used in the prompt, against
 * diffusers' load_textual_inversion run (the token expands to one slot per vector).
 */
class TextualInversionParityTest {

    @TestFactory
    List<DynamicTest> everyTextualInversionCase() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : Fixtures.cases("textual_inversion")) {
            tests.add(DynamicTest.dynamicTest(c.get("id").asText(), () -> {
                Txt2ImgRequest base = ImagePipelinesParityTest.params(c);
                Txt2ImgRequest request = new Txt2ImgRequest(base.model(), null, base.prompt(), base.negativePrompt(),
                        base.sampler(), base.steps(), base.cfgScale(), base.seed(), base.width(), base.height(), 1, 1,
                        null, false, List.of(new EmbeddingFile(c.get("token").asText(),
                        Fixtures.require(c.get("embedding").asText()))));
                GeneratedImage out = Txt2Img.run(ImagePipelinesParityTest.model(c), request, StepListener.NONE).getFirst();
                ImageComparison.of(out, Fixtures.require(c.get("image").asText())).assertWithinTolerance(c.get("id").asText());
            }));
        }
        return tests;
    }
}
