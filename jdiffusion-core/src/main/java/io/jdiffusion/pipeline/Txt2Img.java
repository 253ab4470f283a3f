package io.jdiffusion.pipeline;

import java.util.List;

/** Text to image: loads the model, encodes the prompts, samples, decodes. */
public final class Txt2Img {
    private Txt2Img() {
    }

    /** Runs a validated request; returns one image per batch entry, in order. */
    public static List<GeneratedImage> run(Txt2ImgRequest request, ProgressListener listener) {
        throw new UnsupportedOperationException("the txt2img pipeline is not implemented yet");
    }
}
