package io.jdiffusion.server;

/** The server's limits and the options clients may change while it runs ({@code POST /sdapi/v1/options}). */
final class ServerSettings {
    private final ServerOptions options;
    private volatile int clipSkip = 1; // A1111's CLIP_stop_at_last_layers

    ServerSettings(ServerOptions options) {
        this.options = options;
    }

    long maxPixels() {
        return options.maxPixels();
    }

    long maxBodyBytes() {
        return options.maxBodyBytes();
    }

    boolean watermark() {
        return options.watermark();
    }

    int clipSkip() {
        return clipSkip;
    }

    void setClipSkip(int k) {
        clipSkip = k;
    }
}
