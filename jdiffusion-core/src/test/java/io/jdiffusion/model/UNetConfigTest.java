package io.jdiffusion.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.jdiffusion.JDiffusionException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** unet/config.json's keys for the x4 upscaler: only_cross_attention in both spellings, num_class_embeds, class_embed_type. */
class UNetConfigTest {
    private static final String BASE = "\"block_out_channels\": [32, 64, 64], "
            + "\"down_block_types\": [\"DownBlock2D\", \"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\"], "
            + "\"up_block_types\": [\"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\", \"UpBlock2D\"]";

    private static UNetConfig parse(String extra) throws Exception {
        JsonNode node = Json.MAPPER.readTree("{" + BASE + (extra.isEmpty() ? "" : ", " + extra) + "}");
        return UNetConfig.fromDiffusers(node);
    }

    @Test
    void onlyCrossAttentionAsAListIsPerLevel() throws Exception {
        assertThat(parse("\"only_cross_attention\": [true, false, true]").onlyCrossAttention()).containsExactly(true, false, true);
    }

    @Test
    void onlyCrossAttentionAsOneFlagIsEveryLevel() throws Exception {
        assertThat(parse("\"only_cross_attention\": true").onlyCrossAttention()).containsExactly(true, true, true);
        assertThat(parse("\"only_cross_attention\": false").onlyCrossAttention()).containsExactly(false, false, false);
    }

    @Test
    void withoutTheUpscalerKeysNothingChanges() throws Exception {
        UNetConfig plain = parse("\"num_class_embeds\": null, \"class_embed_type\": null");
        assertThat(plain.onlyCrossAttention()).containsExactly(false, false, false);
        assertThat(plain.numClassEmbeds()).isZero();
        assertThat(plain).isEqualTo(parse(""));
    }

    @Test
    void numClassEmbedsIsRead() throws Exception {
        assertThat(parse("\"num_class_embeds\": 1000").numClassEmbeds()).isEqualTo(1000);
    }

    @Test
    void aWrongLengthOrAnotherClassEmbeddingIsOneLineError() {
        assertThatThrownBy(() -> parse("\"only_cross_attention\": [true, false]"))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("only_cross_attention").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> parse("\"class_embed_type\": \"timestep\""))
                .isInstanceOf(JDiffusionException.class).hasMessageContaining("class_embed_type 'timestep'").hasMessageNotContaining("\n");
    }
}
