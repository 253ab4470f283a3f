package io.jdiffusion.model.vae;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.SafeTensors;
import io.jdiffusion.io.SafeTensorsWriter;
import io.jdiffusion.model.TaesdLoader;
import io.jdiffusion.tensor.Tensor;
import io.jdiffusion.tensor.Weight;
import io.jdiffusion.testing.Fixtures;
import io.jdiffusion.testing.Generated;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * TAESD against diffusers' AutoencoderTiny (a tiny random one, {@code tools/fixtures/taesd.py}), in every layout
 * the loader takes: the diffusers folder and its weights file, the original single files (safetensors and .pth).
 */
class TaesdTest {
    @TempDir
    Path dir;

    private static SafeTensors io() {
        return SafeTensors.open(Generated.require("taesd/io.safetensors"));
    }

    private static void assertDecodesAsDiffusers(Taesd taesd) {
        SafeTensors ref = io();
        Tensor expected = Fixtures.tensor(ref, "decoded");
        Tensor decoded = taesd.decode(Fixtures.tensor(ref, "latents"));
        assertThat(decoded.shape).containsExactly(expected.shape);
        assertThat(Fixtures.relativeError(decoded.data, expected.data)).isLessThanOrEqualTo(1e-4);
    }

    private static void assertEncodesAsDiffusers(Taesd taesd) {
        SafeTensors ref = io();
        Tensor expected = Fixtures.tensor(ref, "encoded");
        Tensor encoded = taesd.encode(Fixtures.tensor(ref, "image"));
        assertThat(encoded.shape).containsExactly(expected.shape);
        assertThat(Fixtures.relativeError(encoded.data, expected.data)).isLessThanOrEqualTo(1e-4);
    }

    @Test
    void diffusersFolderMatchesAutoencoderTiny() {
        Path folder = Generated.require("taesd/tiny-taesd");
        Taesd taesd = TaesdLoader.load(folder);
        assertThat(taesd.latentChannels()).isEqualTo(4);
        assertThat(taesd.downscaleFactor()).isEqualTo(8);
        assertDecodesAsDiffusers(taesd);
        assertEncodesAsDiffusers(taesd);
        assertThat(TaesdLoader.isTaesd(folder)).isTrue();
    }

    @Test
    void diffusersWeightsFileAloneLoadsToo() {
        Path file = Generated.require("taesd/tiny-taesd/diffusion_pytorch_model.safetensors");
        Taesd taesd = TaesdLoader.load(file);
        assertDecodesAsDiffusers(taesd);
        assertEncodesAsDiffusers(taesd);
        assertThat(TaesdLoader.isTaesd(file)).isTrue();
    }

    @Test
    void originalDecoderFileFindsItsEncoderNextToIt() {
        Path decoder = Generated.require("taesd/taesd_decoder.safetensors");
        Taesd taesd = TaesdLoader.load(decoder);
        assertThat(taesd.canEncode()).isTrue();
        assertDecodesAsDiffusers(taesd);
        assertEncodesAsDiffusers(taesd);
        assertThat(taesd.name()).isEqualTo("taesd_decoder.safetensors");
        assertThat(TaesdLoader.isTaesd(decoder)).isTrue();
    }

    @Test
    void originalEncoderFileFindsItsDecoder() {
        Taesd taesd = TaesdLoader.load(Generated.require("taesd/taesd_encoder.safetensors"));
        assertDecodesAsDiffusers(taesd);
        assertEncodesAsDiffusers(taesd);
    }

    @Test
    void originalPytorchDecoderFile() {
        Path pth = Generated.require("taesd/taesd_decoder.pth");
        Taesd taesd = TaesdLoader.load(pth); // no taesd_encoder.pth next to it
        assertThat(taesd.canDecode()).isTrue();
        assertThat(taesd.canEncode()).isFalse();
        assertDecodesAsDiffusers(taesd);
        assertThatThrownBy(() -> taesd.encode(Tensor.zeros(1, 3, 16, 16))).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("no encoder");
    }

    @Test
    void folderWithOneOriginalDecoderFile() throws IOException {
        Files.copy(Generated.require("taesd/taesd_decoder.safetensors"), dir.resolve("taesd_decoder.safetensors"));
        Files.copy(Generated.require("taesd/taesd_encoder.safetensors"), dir.resolve("taesd_encoder.safetensors"));
        assertThat(TaesdLoader.isTaesd(dir)).isTrue();
        Taesd taesd = TaesdLoader.load(dir);
        assertDecodesAsDiffusers(taesd);
        assertEncodesAsDiffusers(taesd);
    }

    @Test
    void batchItemsAreDecodedIndependently() {
        Taesd taesd = TaesdLoader.load(Generated.require("taesd/tiny-taesd"));
        Tensor latents = Fixtures.tensor(io(), "latents");
        Tensor second = taesd.decode(latents.slice0(1, 1));
        Tensor both = taesd.decode(latents);
        assertThat(both.slice0(1, 1).data).containsExactly(second.data);
    }

    @Test
    void klVaeIsNotTaesd() {
        Path vae = Fixtures.find("tiny-sd15/vae");
        if (vae != null) assertThat(TaesdLoader.isTaesd(vae)).isFalse();
        assertThat(TaesdLoader.isTaesd(Fixtures.require("tiny-sd15.safetensors"))).isFalse();
    }

    @Test
    void fileWithOtherTensorsIsRefusedByName() {
        Path bad = dir.resolve("not_taesd.safetensors");
        SafeTensorsWriter.write(bad, Map.of("something.weight", Weight.ofFloats("something.weight", new float[4], 2, 2)));
        assertThat(TaesdLoader.isTaesd(bad)).isFalse();
        assertThatThrownBy(() -> TaesdLoader.load(bad)).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith(bad.toString()).hasMessageContaining("not a TAESD").message().doesNotContain("\n");
    }

    @Test
    void displayNameOfAHubSnapshotIsTheRepository() {
        assertThat(TaesdLoader.displayName(Path.of("/c/hub/models--madebyollin--taesdxl/snapshots/0123abc"))).isEqualTo("taesdxl");
        assertThat(TaesdLoader.displayName(Path.of("/a/VAE/taesd_decoder.pth"))).isEqualTo("taesd_decoder.pth");
    }
}
