package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ExtraNetworksTest {

    @Test
    void loraTagsAreCutOutLeavingTheTextAsWritten() {
        ExtraNetworks e = ExtraNetworks.extract("a photograph of an astronaut riding a horse<lora:lora-attn:0.8>");
        assertThat(e.prompt()).isEqualTo("a photograph of an astronaut riding a horse");
        assertThat(e.loras()).containsExactly(new ExtraNetworks.LoraTag("lora-attn", 0.8, 0.8));

        // A1111 replaces the tag by nothing: the comma before it stays
        ExtraNetworks two = ExtraNetworks.extract("<lora:a>a cat, <lora:sub/b:0.5:1.5>, sitting <lyco:c:unet=0.3:te=0.2>");
        assertThat(two.prompt()).isEqualTo("a cat, , sitting ");
        assertThat(two.loras()).containsExactly(new ExtraNetworks.LoraTag("a", 1, 1),
                new ExtraNetworks.LoraTag("sub/b", 0.5, 1.5), new ExtraNetworks.LoraTag("c", 0.2, 0.3));
    }

    @Test
    void hypernetworkTagsAreCutOutToo() {
        ExtraNetworks e = ExtraNetworks.extract("<hypernet:anime:0.6>a cat");
        assertThat(e.prompt()).isEqualTo("a cat");
        assertThat(e.hypernets()).containsExactly(new ExtraNetworks.HypernetTag("anime", 0.6));
        assertThat(e.loras()).isEmpty();
    }

    @Test
    void otherTagsAndPlainTextStay() {
        for (String p : List.of("a cat", "a <cat>", "<other:thing:1> cat", "(a cat:1.2)", "")) {
            ExtraNetworks e = ExtraNetworks.extract(p);
            assertThat(e.prompt()).isEqualTo(p);
            assertThat(e.loras()).isEmpty();
        }
    }

    @Test
    void malformedTagsAreUserErrors() {
        assertThatThrownBy(() -> ExtraNetworks.extract("<lora:x:lots>")).isInstanceOf(JDiffusionException.class)
                .hasMessage("prompt: <lora:x:lots>: 'lots' is not a number");
        assertThatThrownBy(() -> ExtraNetworks.extract("<lora: :1>")).hasMessage("prompt: <lora: :1> names no LoRA");
        assertThatThrownBy(() -> ExtraNetworks.extract("<lora:x:1:1:1>")).hasMessageContaining("unexpected '1'");
    }
}
