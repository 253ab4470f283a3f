package io.jdiffusion.server;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.jdiffusion.JDiffusionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;

/**
 * The web page and AUTOMATIC1111's HTTP API, in one process that keeps the model loaded.
 *
 * <pre>
 * try (JDiffusionServer server = JDiffusionServer.start(ServerOptions.of("model.safetensors", null))) {
 *     System.out.println(server.url());
 *     server.join();
 * }
 * </pre>
 * Every error is JSON with a 4xx status (503 when the queue is full or the server stops): {@code {"error": "...", "field": "steps", "detail": "steps: ..."}}.
 */
public final class JDiffusionServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JDiffusionServer.class);
    private static final String WEB = "/io/jdiffusion/server/web/";

    private final Javalin app;
    private final JobQueue queue;
    private final ServerOptions options;
    private final java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);

    private JDiffusionServer(Javalin app, JobQueue queue, ServerOptions options) {
        this.app = app;
        this.queue = queue;
        this.options = options;
    }

    /** Loads the first model and starts serving, with the core's img2img, inpainting and outpainting. */
    public static JDiffusionServer start(ServerOptions options) {
        return start(options, CorePipelines.INSTANCE);
    }

    /**
     * Loads the first model (so a bad one fails here, in one line) and starts serving.
     *
     * @param img2img what runs img2img, inpainting and outpainting (tests may pass a stand-in)
     */
    public static JDiffusionServer start(ServerOptions options, Img2ImgPipeline img2img) {
        return start(options, img2img, PreviewImages.LINEAR);
    }

    /** Loads the first model and starts serving, the progress previews drawn as {@code previews} says. */
    public static JDiffusionServer start(ServerOptions options, PreviewImages previews) {
        return start(options, CorePipelines.INSTANCE, previews);
    }

    /**
     * As {@link #start(ServerOptions, Img2ImgPipeline)}, with the progress endpoint's previews drawn as
     * {@code previews} says.
     */
    public static JDiffusionServer start(ServerOptions options, Img2ImgPipeline img2img, PreviewImages previews) {
        options.validate();
        java.util.Objects.requireNonNull(previews, "previews");
        java.util.Objects.requireNonNull(img2img, "img2img");
        ModelCatalog catalog = ModelCatalog.create(options.modelsDir(), options.model());
        catalog.use(catalog.current());
        BasicAuth auth = options.apiAuth() == null ? null : BasicAuth.parse(options.apiAuth());
        ObjectMapper json = JsonMapper.builder()
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .build();
        JobQueue queue = new JobQueue(options.queueSize());
        SdApi api = new SdApi(json, catalog, queue, new ServerSettings(options), img2img, previews);

        Javalin app = Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.startup.showOldJavalinVersionWarning = false;
            config.concurrency.useVirtualThreads = true; // a request waiting in the queue costs no platform thread
            config.jetty.host = options.host();
            config.jetty.port = options.port();
            config.http.prefer405over404 = true;

            var routes = config.routes;
            if (auth != null) {
                routes.before(ctx -> {
                    if (!auth.allows(ctx.header("Authorization"))) {
                        ctx.header("WWW-Authenticate", "Basic realm=\"jdiffusion\", charset=\"UTF-8\"");
                        throw new ApiException(ApiException.UNAUTHORIZED, null, "authentication required (HTTP basic auth)");
                    }
                });
            }
            routes.get("/", ctx -> resource(ctx, "index.html", "text/html; charset=utf-8"));
            routes.get("/app.js", ctx -> resource(ctx, "app.js", "text/javascript; charset=utf-8"));
            routes.get("/app.css", ctx -> resource(ctx, "app.css", "text/css; charset=utf-8"));

            routes.post("/sdapi/v1/txt2img", api::txt2img);
            routes.post("/sdapi/v1/img2img", api::img2img);
            routes.get("/sdapi/v1/progress", api::progress);
            routes.post("/sdapi/v1/interrupt", api::interrupt);
            routes.get("/sdapi/v1/samplers", api::samplers);
            routes.get("/sdapi/v1/schedulers", api::schedulers);
            routes.get("/sdapi/v1/sd-models", api::sdModels);
            routes.get("/sdapi/v1/options", api::getOptions);
            routes.post("/sdapi/v1/options", api::setOptions);
            routes.post("/sdapi/v1/png-info", api::pngInfo);
            routes.post("/jdiffusion/v1/outpaint", api::outpaint);

            routes.exception(ApiException.class, (e, ctx) -> error(json, ctx, e.status, e.field, e.getMessage()));
            routes.exception(HttpResponseException.class, (e, ctx) -> error(json, ctx, e.getStatus(), null, e.getMessage()));
            routes.exception(JDiffusionException.class, (e, ctx) -> error(json, ctx, ApiException.UNPROCESSABLE, null, e.getMessage()));
            routes.exception(Exception.class, (e, ctx) -> {
                LOG.error("unexpected failure on {} {}", ctx.method(), ctx.path(), e);
                error(json, ctx, 500, null, "unexpected " + e.getClass().getSimpleName() + ": " + e.getMessage());
            });
            routes.error(404, ctx -> {
                if (ctx.result() == null || ctx.result().isEmpty() || !"application/json".equals(ctx.contentType())) {
                    error(json, ctx, 404, null, "no such route: " + ctx.method() + " " + ctx.path());
                }
            });
            routes.error(405, ctx -> error(json, ctx, 405, null, ctx.method() + " is not allowed on " + ctx.path()));
        });
        try {
            app.start();
        } catch (RuntimeException e) {
            queue.close();
            throw new JDiffusionException("--port: cannot listen on " + options.host() + ":" + options.port()
                    + " (" + rootMessage(e) + ")", e);
        }
        return new JDiffusionServer(app, queue, options);
    }

    public int port() {
        return app.port();
    }

    /** The page's address. */
    public String url() {
        String host = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        return "http://" + host + ":" + port() + "/";
    }

    /** Blocks until the server stops (another thread's {@link #close}, or the JVM's shutdown). */
    public void join() throws InterruptedException {
        stopped.await();
    }

    @Override
    public void close() {
        try {
            queue.close();
            app.stop();
        } finally {
            stopped.countDown();
        }
    }

    private static void resource(Context ctx, String name, String contentType) throws IOException {
        try (InputStream in = JDiffusionServer.class.getResourceAsStream(WEB + name)) {
            if (in == null) throw new ApiException(ApiException.NOT_FOUND, null, "the page is missing from this build: " + name);
            ctx.contentType(contentType).header("Cache-Control", "no-cache").result(in.readAllBytes());
        }
    }

    private static void error(ObjectMapper json, Context ctx, int status, String field, String detail) {
        ObjectNode body = json.createObjectNode();
        body.put("error", switch (status) {
            case 400 -> "BadRequest";
            case 401 -> "Unauthorized";
            case 404 -> "NotFound";
            case 405 -> "MethodNotAllowed";
            case 413 -> "PayloadTooLarge";
            case 422 -> "ValidationError";
            case 501 -> "NotImplemented";
            case 503 -> "ServiceUnavailable";
            default -> status >= 500 ? "InternalError" : "Error";
        });
        if (field != null) body.put("field", field); else body.putNull("field");
        body.put("detail", detail);
        if (status == ApiException.UNAVAILABLE) ctx.header("Retry-After", Integer.toString(JobQueue.RETRY_AFTER_SECONDS));
        try {
            ctx.status(status).contentType("application/json").result(json.writeValueAsBytes(body));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }
}
