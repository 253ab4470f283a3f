package io.jdiffusion.cli;

import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.pipeline.HiresFix;
import io.jdiffusion.pipeline.Refiner;
import io.jdiffusion.pipeline.Txt2Img;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code jdiffusion txt2img}: a prompt in, PNG files (with A1111 infotext) out. */
@Command(name = "txt2img",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = "Generate images from a text prompt.",
        footer = {"", "Without --output, images go to outputs/txt2img/NNNNN-SEED.png (next free number)."})
final class Txt2ImgCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    GenerationOptions options;

    @Option(names = "--width", paramLabel = "W", defaultValue = "512",
            description = "Image width, a multiple of 8 in 8..4096 (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = "--height", paramLabel = "H", defaultValue = "512",
            description = "Image height, a multiple of 8 in 8..4096 (default: ${DEFAULT-VALUE}).")
    int height;

    @Option(names = "--hires", description = "Hires fix with A1111's defaults: generate at --width x --height, upscale "
            + "(--hires-scale), refine with img2img. Any --hires-* flag turns it on too.")
    boolean hires;

    @Option(names = "--hires-scale", paramLabel = "F", description = "Hires fix: the upscale factor (default: 2).")
    Double hiresScale;

    @Option(names = "--hires-steps", paramLabel = "N", description = "Hires fix: steps of the refining pass (default: 0 = as --steps).")
    Integer hiresSteps;

    @Option(names = "--hires-denoise", paramLabel = "F", description = "Hires fix: denoising strength of the refining pass, in (0, 1] (default: 0.7).")
    Double hiresDenoise;

    @Option(names = "--hires-upscaler", paramLabel = "NAME",
            description = "Hires fix: latent (resize the latents bilinearly) or lanczos (decode, Lanczos-resize, encode) (default: latent).")
    String hiresUpscaler;

    @Option(names = "--refiner", paramLabel = "MODEL",
            description = "A refiner (such as the SDXL refiner) that takes over at --refiner-switch-at and finishes the image, "
                    + "as A1111's Refiner: a file, a diffusers folder or a Hub repository (with --models-dir also a name).")
    Path refiner;

    @Option(names = "--refiner-switch-at", paramLabel = "F",
            description = "With --refiner: the fraction of the schedule the model runs before the refiner takes over, in (0, 1) (default: 0.8).")
    Double refinerSwitchAt;

    static final double DEFAULT_REFINER_SWITCH_AT = Refiner.DEFAULT_SWITCH_AT;

    /** What turns a request into images: {@link Txt2Img#run}, or a stand-in in tests. */
    interface Pipeline {
        List<GeneratedImage> run(Txt2ImgRequest request, StepListener listener);

        /** The run with LoRAs or another VAE on the model; a stand-in that cannot apply them refuses. */
        default List<GeneratedImage> run(Txt2ImgRequest request, ModelAddons addons, StepListener listener) {
            if (!addons.isEmpty()) throw new UnsupportedOperationException("this pipeline cannot apply LoRAs or a VAE");
            return run(request, listener);
        }

        /** The run with the hires fix (null for none); a stand-in that cannot do it refuses. */
        default List<GeneratedImage> run(Txt2ImgRequest request, HiresFix hires, ModelAddons addons, StepListener listener) {
            if (hires != null) throw new UnsupportedOperationException("this pipeline cannot do the hires fix");
            return run(request, addons, listener);
        }

        /** The run with a refiner taking over; a stand-in that cannot do it refuses. */
        default List<GeneratedImage> runWithRefiner(Txt2ImgRequest request, Refiner.Settings refiner, ModelAddons addons, StepListener listener) {
            throw new UnsupportedOperationException("this pipeline cannot run a refiner");
        }
    }

    /** The real pipeline, add-ons included. */
    static final Pipeline TXT2IMG = new Pipeline() {
        @Override
        public List<GeneratedImage> run(Txt2ImgRequest request, StepListener listener) {
            return Txt2Img.run(request, listener);
        }

        @Override
        public List<GeneratedImage> run(Txt2ImgRequest request, ModelAddons addons, StepListener listener) {
            return Txt2Img.run(request, addons, listener);
        }

        @Override
        public List<GeneratedImage> run(Txt2ImgRequest request, HiresFix hires, ModelAddons addons, StepListener listener) {
            return Txt2Img.run(request, hires, addons, listener);
        }

        @Override
        public List<GeneratedImage> runWithRefiner(Txt2ImgRequest request, Refiner.Settings refiner, ModelAddons addons, StepListener listener) {
            return Refiner.run(request, refiner, addons, listener);
        }
    };

    private final Path workDir;
    private final Pipeline pipeline;

    Txt2ImgCommand(Path workDir, Pipeline pipeline) {
        this.workDir = workDir;
        this.pipeline = pipeline;
    }

    @Override
    public Integer call() {
        // everything the user gave is checked before any work starts
        options.check(spec.commandLine().getErr());
        Txt2ImgRequest request = options.request(width, height).validate();
        HiresFix hiresFix = hiresFix();
        Refiner.Settings refinerSettings = refinerSettings();
        if (refinerSettings != null) {
            if (hiresFix != null) throw new JDiffusionException("--refiner: not supported together with the hires fix");
            Refiner.Settings resolved = new Refiner.Settings(
                    options.otherModel("--refiner", refinerSettings.model(), spec.commandLine().getErr()), refinerSettings.switchAt());
            return options.generate(spec.commandLine().getOut(), spec.commandLine().getErr(), workDir, "txt2img", request,
                    listener -> pipeline.runWithRefiner(request, resolved, options.addons(), listener));
        }
        if (hiresFix == null) {
            return options.generate(spec.commandLine().getOut(), spec.commandLine().getErr(), workDir, "txt2img", request,
                    listener -> pipeline.run(request, options.addons(), listener));
        }
        hiresFix.validate(request);
        // the output's size is the hires target's (the watermark note goes by it)
        Txt2ImgRequest output = request.withSize(hiresFix.targetWidth(width), hiresFix.targetHeight(height));
        return options.generate(spec.commandLine().getOut(), spec.commandLine().getErr(), workDir, "txt2img", output,
                listener -> pipeline.run(request, hiresFix, options.addons(), listener));
    }

    /** The refiner the flags ask for (checked, the model not yet resolved); null for none. */
    Refiner.Settings refinerSettings() {
        if (refiner == null) {
            if (refinerSwitchAt != null) throw new JDiffusionException("--refiner-switch-at: give --refiner MODEL too");
            return null;
        }
        return new Refiner.Settings(refiner, refinerSwitchAt != null ? refinerSwitchAt : DEFAULT_REFINER_SWITCH_AT).validate();
    }

    /** The hires fix the flags ask for (--hires or any --hires-* flag), A1111's defaults for the rest; null for none. */
    HiresFix hiresFix() {
        if (!hires && hiresScale == null && hiresSteps == null && hiresDenoise == null && hiresUpscaler == null) return null;
        return new HiresFix(hiresScale != null ? hiresScale : HiresFix.DEFAULT_SCALE, hiresSteps != null ? hiresSteps : 0,
                hiresDenoise != null ? hiresDenoise : HiresFix.DEFAULT_DENOISE,
                hiresUpscaler != null ? HiresFix.Upscaler.parse(hiresUpscaler) : HiresFix.Upscaler.LATENT);
    }
}
