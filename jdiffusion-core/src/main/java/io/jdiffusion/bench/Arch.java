package io.jdiffusion.bench;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.bench.OriginalLayout.ClipSpec;
import io.jdiffusion.bench.OriginalLayout.OpenClipSpec;
import io.jdiffusion.bench.OriginalLayout.UNetSpec;
import io.jdiffusion.bench.OriginalLayout.VaeSpec;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The published architectures the benchmark can build, with the sizes of their release configs:
 * <ul>
 * <li>{@code sd15}: v1-5-pruned-emaonly ({@code configs/stable-diffusion/v1-inference.yaml}):
 *     UNet 320·[1,2,4,4], attention at the top three levels, context 768, 1×1-conv projections; OpenAI
 *     CLIP ViT-L/14 text model.</li>
 * <li>{@code sd21}: v2-1_768-ema-pruned ({@code v2-inference-v.yaml}): the same UNet with context 1024 and
 *     linear projections; OpenCLIP ViT-H/14 text tower (24 blocks, of which SD 2.x runs 23).</li>
 * <li>{@code sdxl}: sd_xl_base_1.0 ({@code sd_xl_base.yaml}): UNet 320·[1,2,4], transformer depths
 *     [0, 2, 10] (and 10 in the middle), context 2048, label embedding of 2816 inputs; CLIP ViT-L/14
 *     and OpenCLIP ViT-bigG/14.</li>
 * </ul>
 * All three use the same VAE (128·[1,2,4,4], 4 latent channels).
 */
public enum Arch {
    SD15("sd15"),
    SD21("sd21"),
    SDXL("sdxl");

    /** The name on the command line and in the JSON report. */
    public final String id;

    Arch(String id) {
        this.id = id;
    }

    private static final int CLIP_VOCAB = 49408;
    private static final int CLIP_POSITIONS = 77;
    private static final VaeSpec SD_VAE = new VaeSpec(3, new int[]{128, 256, 512, 512}, 2, 4);

    public static Arch parse(String id) {
        for (Arch a : values()) if (a.id.equals(id.toLowerCase(Locale.ROOT))) return a;
        throw new JDiffusionException("--arch: '" + id + "' is not one of "
                + Arrays.stream(values()).map(a -> a.id).collect(Collectors.joining(", ")));
    }

    /** Every tensor of this architecture's published single-file checkpoint, as fp16 (position_ids int64). */
    public OriginalLayout layout() {
        return switch (this) {
            case SD15 -> new OriginalLayout()
                    .unet("model.diffusion_model.", new UNetSpec(4, 4, new int[]{320, 640, 1280, 1280}, 2,
                            new int[]{1, 1, 1, 0}, 1, 768, false, 0))
                    .vae("first_stage_model.", SD_VAE)
                    .clip("cond_stage_model.transformer.", new ClipSpec(CLIP_VOCAB, CLIP_POSITIONS, 768, 12, 3072, true));
            case SD21 -> new OriginalLayout()
                    .unet("model.diffusion_model.", new UNetSpec(4, 4, new int[]{320, 640, 1280, 1280}, 2,
                            new int[]{1, 1, 1, 0}, 1, 1024, true, 0))
                    .vae("first_stage_model.", SD_VAE)
                    .openClip("cond_stage_model.model.", new OpenClipSpec(CLIP_VOCAB, CLIP_POSITIONS, 1024, 24, 4096, 1024));
            case SDXL -> new OriginalLayout()
                    .unet("model.diffusion_model.", new UNetSpec(4, 4, new int[]{320, 640, 1280}, 2,
                            new int[]{0, 2, 10}, 10, 2048, true, 2816))
                    .vae("first_stage_model.", SD_VAE)
                    .clip("conditioner.embedders.0.transformer.", new ClipSpec(CLIP_VOCAB, CLIP_POSITIONS, 768, 12, 3072, true))
                    .openClip("conditioner.embedders.1.model.", new OpenClipSpec(CLIP_VOCAB, CLIP_POSITIONS, 1280, 32, 5120, 1280));
        };
    }
}
