package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.io.TorchCheckpointWriter;
import io.jdiffusion.io.TorchCheckpointWriter.Emitter;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TextualInversionTest {
    @TempDir
    Path dir;

    /** The fixture embedding's emb_params [n, dim] (A1111's safetensors layout). */
    private static Weight fixtureVectors() {
        return SafeTensors.open(Fixtures.require("tiny-sd15-ref/embedding.safetensors")).get("emb_params");
    }

    /** A writer holding the fixture's vectors as one float32 tensor named '*'. */
    private static TorchCheckpointWriter vectorsWriter() {
        Weight w = fixtureVectors();
        return new TorchCheckpointWriter().storage("0", TorchCheckpointWriter.StorageData.floats(w.toFloats()))
                .tensor("*", "0", 0, w.shape(), new long[]{w.shape()[1], 1});
    }

    @Test
    void a1111SafetensorsLayout() {
        TextualInversion ti = TextualInversion.read(Fixtures.require("tiny-sd15-ref/embedding.safetensors"));
        assertThat(ti.name()).isEqualTo("embedding");
        assertThat(ti.vectors().toFloats()).isEqualTo(fixtureVectors().toFloats());
        assertThat(ti.vectorCount()).isEqualTo(fixtureVectors().dim(0));
        assertThat(ti.vectorsG()).isNull();
    }

    @Test
    void a1111PtLayoutThroughTheUnpickler() throws IOException {
        Path file = dir.resolve("toy.pt");
        TorchCheckpointWriter.writeA1111Embedding(file, "toy", fixtureVectors());

        TextualInversion ti = TextualInversion.read(file);
        assertThat(ti.name()).isEqualTo("toy");
        assertThat(ti.vectors().toFloats()).isEqualTo(fixtureVectors().toFloats());
    }

    @Test
    void originalCodesParameterDictLayout() throws IOException {
        // string_to_param = ParameterDict: NEWOBJ, then BUILD with its __dict__ {'_parameters': OrderedDict({'*': tensor})}
        TorchCheckpointWriter w = vectorsWriter();
        Emitter p = new Emitter().op(0x80).op(2).op('}').op('(');
        p.unicode("string_to_param").global("torch.nn.modules.container", "ParameterDict").op(')').op(0x81);
        p.op('}').unicode("_parameters").global("collections", "OrderedDict").op(')').op('R').op('(').unicode("*");
        w.tensor(p, "*", false);
        p.op('u').op('s').op('b').op('u').op('.');
        Path file = dir.resolve("original.pt");
        w.writeZip(file, "archive", false, p.bytes());

        assertThat(TextualInversion.read(file).vectors().toFloats()).isEqualTo(fixtureVectors().toFloats());
    }

    @Test
    void diffusersLearnedEmbedsAndSdxlLayouts() {
        Weight v = fixtureVectors();
        Path learned = dir.resolve("learned_embeds.safetensors");
        SafeTensorsWriter.write(learned, Map.of("<sj-toy>", v.sliceRows("x", 0, 1).reshape("x", v.shape()[1])));
        TextualInversion one = TextualInversion.read(learned);
        assertThat(one.vectors().shape()).containsExactly(1, v.shape()[1]);

        Path sdxl = dir.resolve("sdxl.safetensors");
        SafeTensorsWriter.write(sdxl, Map.of("clip_l", v, "clip_g", Weight.ofFloats("g", new float[6], 2, 3)));
        TextualInversion xl = TextualInversion.read(sdxl);
        assertThat(xl.vectors().toFloats()).isEqualTo(v.toFloats());
        assertThat(xl.vectorsG().shape()).containsExactly(2, 3);
    }

    @Test
    void otherFilesAreNoEmbedding() {
        Path lora = Fixtures.require("tiny-sd15-ref/lora-attn.safetensors");
        assertThatThrownBy(() -> TextualInversion.read(lora)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith(lora + ": not a textual-inversion embedding");
    }
}
