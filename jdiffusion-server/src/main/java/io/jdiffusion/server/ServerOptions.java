package io.jdiffusion.server;

import io.jdiffusion.JDiffusionException;

import java.nio.file.Path;

/**
 * How the server is started ({@code jdiffusion serve}'s flags).
 *
 * @param host         the address to bind: loopback unless the user opens it up
 * @param port         0 picks a free port
 * @param modelsDir    a folder of checkpoints and diffusers folders, or null
 * @param model        the model to load first (a path, or a model's name in {@code modelsDir}), or null for the first found
 * @param apiAuth      "USER:PASS" (several separated by commas) to require HTTP basic auth on every route, or null
 * @param queueSize    jobs that may wait behind the running one before requests are refused with 503
 * @param watermark    whether images get the invisible watermark (as the CLI's default)
 * @param maxBodyBytes requests with a larger body are refused with 413
 * @param maxPixels    the largest image (width × height) a request may ask for or send
 */
public record ServerOptions(
        String host,
        int port,
        Path modelsDir,
        String model,
        String apiAuth,
        int queueSize,
        boolean watermark,
        long maxBodyBytes,
        long maxPixels) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 7860; // A1111's, so its clients find us
    public static final int DEFAULT_QUEUE_SIZE = 16;
    public static final long DEFAULT_MAX_BODY_BYTES = 64L << 20;
    public static final long DEFAULT_MAX_PIXELS = 2048L * 2048;

    /** The defaults for a model (path or name) and/or a models folder. */
    public static ServerOptions of(String model, Path modelsDir) {
        return new ServerOptions(DEFAULT_HOST, DEFAULT_PORT, modelsDir, model, null, DEFAULT_QUEUE_SIZE, true,
                DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_PIXELS);
    }

    public ServerOptions withHost(String h) {
        return new ServerOptions(h, port, modelsDir, model, apiAuth, queueSize, watermark, maxBodyBytes, maxPixels);
    }

    public ServerOptions withPort(int p) {
        return new ServerOptions(host, p, modelsDir, model, apiAuth, queueSize, watermark, maxBodyBytes, maxPixels);
    }

    public ServerOptions withApiAuth(String auth) {
        return new ServerOptions(host, port, modelsDir, model, auth, queueSize, watermark, maxBodyBytes, maxPixels);
    }

    public ServerOptions withQueueSize(int n) {
        return new ServerOptions(host, port, modelsDir, model, apiAuth, n, watermark, maxBodyBytes, maxPixels);
    }

    public ServerOptions withWatermark(boolean w) {
        return new ServerOptions(host, port, modelsDir, model, apiAuth, queueSize, w, maxBodyBytes, maxPixels);
    }

    public ServerOptions withMaxBodyBytes(long n) {
        return new ServerOptions(host, port, modelsDir, model, apiAuth, queueSize, watermark, n, maxPixels);
    }

    public ServerOptions withMaxPixels(long n) {
        return new ServerOptions(host, port, modelsDir, model, apiAuth, queueSize, watermark, maxBodyBytes, n);
    }

    /** Throws a one-line {@link JDiffusionException} naming the flag of the first bad value. */
    public ServerOptions validate() {
        if (host == null || host.isBlank()) throw new JDiffusionException("--host: no address given");
        if (port < 0 || port > 65535) throw new JDiffusionException("--port: " + port + " is outside 0..65535");
        if (queueSize < 0 || queueSize > 10_000) throw new JDiffusionException("--queue-size: " + queueSize + " is outside 0..10000");
        if (apiAuth != null) BasicAuth.parse(apiAuth);
        if (maxBodyBytes < 1) throw new JDiffusionException("max body size " + maxBodyBytes + " must be positive");
        if (maxPixels < 64 * 64) throw new JDiffusionException("max pixels " + maxPixels + " is below 64x64");
        return this;
    }
}
