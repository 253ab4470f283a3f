package io.jdiffusion.model.addon;

import io.jdiffusion.JDiffusionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelsDirTest {
    @TempDir
    Path root;

    private Path file(String relative) throws IOException {
        Path p = root.resolve(relative);
        Files.createDirectories(p.getParent());
        return Files.write(p, new byte[]{1, 2, 3});
    }

    @Test
    void listsEachKindInA1111sLayout() throws IOException {
        Path sd15 = file("models/Stable-diffusion/v1-5.safetensors");
        Path old = file("models/Stable-diffusion/old/sd-v1-4.ckpt");
        file("models/Stable-diffusion/notes.txt");
        file("models/Stable-diffusion/.hidden/x.safetensors");
        file("models/Stable-diffusion/folder-model/model_index.json");
        file("models/Stable-diffusion/folder-model/unet/diffusion_pytorch_model.safetensors");
        Path lora = file("models/Lora/style/paper.safetensors");
        Path lyco = file("models/LyCORIS/loha.safetensors");
        file("models/VAE/vae-ft-mse-840000-ema-pruned.safetensors");
        file("models/hypernetworks/anime.pt");
        file("embeddings/toy.pt");

        ModelsDir dir = ModelsDir.open(root);
        assertThat(dir.list(ModelsDir.Kind.CHECKPOINT)).extracting(ModelsDir.Entry::name)
                .containsExactly("folder-model", "old/sd-v1-4", "v1-5");
        assertThat(dir.list(ModelsDir.Kind.CHECKPOINT).get(2).bytes()).isEqualTo(3);
        assertThat(dir.list(ModelsDir.Kind.LORA)).extracting(ModelsDir.Entry::path).containsExactly(lyco, lora);
        assertThat(dir.list(ModelsDir.Kind.VAE)).extracting(ModelsDir.Entry::name).containsExactly("vae-ft-mse-840000-ema-pruned");
        assertThat(dir.list(ModelsDir.Kind.HYPERNETWORK)).extracting(ModelsDir.Entry::name).containsExactly("anime");
        assertThat(dir.list(ModelsDir.Kind.EMBEDDING)).extracting(ModelsDir.Entry::name).containsExactly("toy");

        // by name, by name with extension, by path below the folder
        assertThat(dir.find(ModelsDir.Kind.CHECKPOINT, "v1-5")).isEqualTo(sd15);
        assertThat(dir.find(ModelsDir.Kind.CHECKPOINT, "v1-5.safetensors")).isEqualTo(sd15);
        assertThat(dir.find(ModelsDir.Kind.CHECKPOINT, "sd-v1-4")).isEqualTo(old);
        assertThat(dir.find(ModelsDir.Kind.CHECKPOINT, "old/sd-v1-4.ckpt")).isEqualTo(old);
        assertThat(dir.find(ModelsDir.Kind.LORA, "paper")).isEqualTo(lora);
        // the models/ folder itself works as well as the root
        assertThat(ModelsDir.open(root.resolve("models")).find(ModelsDir.Kind.LORA, "loha")).isEqualTo(lyco);
    }

    @Test
    void unknownAndAmbiguousNamesAreUserErrors() throws IOException {
        file("models/Lora/a/same.safetensors");
        file("models/Lora/b/same.safetensors");
        ModelsDir dir = ModelsDir.open(root);
        assertThatThrownBy(() -> dir.find(ModelsDir.Kind.LORA, "same")).isInstanceOf(JDiffusionException.class)
                .hasMessageStartingWith("same: ambiguous, 2 LoRA files match");
        assertThat(dir.find(ModelsDir.Kind.LORA, "a/same")).isEqualTo(root.resolve("models/Lora/a/same.safetensors"));
        assertThatThrownBy(() -> dir.find(ModelsDir.Kind.LORA, "nope")).hasMessageStartingWith("nope: no LoRA file of that name in ");
    }

    @Test
    void aFolderThatIsNoA1111FolderIsRefused() {
        assertThatThrownBy(() -> ModelsDir.open(root)).hasMessageContaining("not an A1111 folder");
        assertThatThrownBy(() -> ModelsDir.open(root.resolve("missing"))).hasMessageContaining("no such directory");
    }
}
