package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.HiresFix;
import io.jdiffusion.pipeline.Refiner;
import io.jdiffusion.pipeline.Txt2Img;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.SamplerId;
import io.jdiffusion.tensor.Tensor;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * The {@code /sdapi/v1} routes: AUTOMATIC1111's API, with its field names and shapes.
 */
final class SdApi {
    private final ObjectMapper json;
    private final ModelCatalog catalog;
    private final JobQueue queue;
    private final ServerSettings settings;
    private final Img2ImgPipeline img2img;
    private final PreviewImages previews;

    SdApi(ObjectMapper json, ModelCatalog catalog, JobQueue queue, ServerSettings settings, Img2ImgPipeline img2img,
          PreviewImages previews) {
        this.previews = previews;
        this.json = json;
        this.catalog = catalog;
        this.queue = queue;
        this.settings = settings;
        this.img2img = img2img;
    }

    // ------------------------------------------------------------------ generation

    void txt2img(Context ctx) {
        RequestFields f = RequestFields.of(body(ctx));
        GenerationParams p = GenerationParams.parse(f, catalog, settings);
        HiresFix hires = HiresFields.parse(f, p, settings.maxPixels());
        if (hires != null) {
            try {
                hires.validate(p.request(modelPath(p), 0, settings.watermark()));
            } catch (JDiffusionException e) {
                throw CorePipelines.CoreErrors.toApi(e);
            }
        }
        ModelCatalog.Entry refiner = refiner(f);
        double switchAt = f.number("refiner_switch_at", Refiner.DEFAULT_SWITCH_AT, 0, 1);
        if (refiner != null && hires != null) {
            throw ApiException.invalid("refiner_checkpoint", "a refiner together with enable_hr is not supported; send one of them");
        }
        Generation.BatchRunner runner = refiner == null
                ? (model, request, listener) -> Txt2Img.run(model, request, hires, listener)
                : (model, request, listener) -> {
                    try {
                        return Refiner.run(model, catalog.useRefiner(refiner), request, switchAt, listener);
                    } catch (JDiffusionException e) {
                        throw refinerError(e);
                    }
                };
        Generation.Result r = await(queue.submit(progress -> Generation.run(catalog, p, settings.watermark(), runner,
                hires == null ? null : hires.denoise(), progress)));
        send(ctx, Generation.response(json, r, echo(f, p, false)));
    }

    /** {@code refiner_checkpoint}: a model of the catalog, named as {@code sd_model_checkpoint} is; null for none ("" or "None"). */
    private ModelCatalog.Entry refiner(RequestFields f) {
        String name = f.string("refiner_checkpoint", null);
        if (name == null || name.isBlank() || name.strip().equalsIgnoreCase("None")) return null;
        return catalog.resolve("refiner_checkpoint", name);
    }

    /** The core's refiner errors name --refiner / --refiner-switch-at; the API names its fields. */
    private static ApiException refinerError(JDiffusionException e) {
        String message = e.getMessage() == null ? "" : e.getMessage();
        String field = message.startsWith("--refiner-switch-at") ? "refiner_switch_at" : "refiner_checkpoint";
        int colon = message.indexOf(": ");
        return ApiException.invalid(field, message.startsWith("--") && colon > 0 ? message.substring(colon + 2) : message);
    }

    void img2img(Context ctx) {
        RequestFields f = RequestFields.of(body(ctx));
        GenerationParams p = GenerationParams.parse(f, catalog, settings);
        Img2ImgFields img = Img2ImgFields.parse(f, settings.maxPixels());
        img2img.check(img.job(p.request(modelPath(p), 0, settings.watermark())));
        Generation.Result r = await(queue.submit(progress -> Generation.run(catalog, p, settings.watermark(),
                (model, request, listener) -> img2img.run(model, img.job(request), listener),
                img.denoisingStrength(), progress)));
        send(ctx, Generation.response(json, r, echo(f, p, img.includeInitImages())));
    }

    /**
     * Ours, as A1111 has no outpainting route: txt2img's fields (width and height are not used: the
     * canvas is the picture grown by the sides) plus {@link OutpaintFields}; answered like img2img.
     */
    void outpaint(Context ctx) {
        RequestFields f = RequestFields.of(body(ctx));
        GenerationParams asked = GenerationParams.parse(f, catalog, settings);
        OutpaintFields out = OutpaintFields.parse(f, settings.maxPixels());
        Txt2ImgRequest canvas;
        try {
            canvas = out.request(asked.request(modelPath(asked), 0, settings.watermark())).validate().resolvedParams();
        } catch (JDiffusionException e) {
            throw CorePipelines.CoreErrors.toApi(e);
        }
        if ((long) canvas.width() * canvas.height() > settings.maxPixels()) {
            throw ApiException.invalid("left, top, right, bottom", "the canvas would be " + canvas.width() + "x" + canvas.height()
                    + ", larger than this server's limit of " + settings.maxPixels() + " pixels");
        }
        GenerationParams p = asked.withSize(canvas.width(), canvas.height());
        Generation.Result r = await(queue.submit(progress -> Generation.run(catalog, p, settings.watermark(),
                (model, request, listener) -> img2img.outpaint(model, out.request(request), listener),
                out.denoisingStrength(), progress)));
        send(ctx, Generation.response(json, r, echo(f, p, false)));
    }

    /** The model file a request will run on (only checked for presence by the core's validation). */
    private java.nio.file.Path modelPath(GenerationParams p) {
        return (p.model() != null ? p.model() : catalog.current()).path();
    }

    /** The request as A1111 echoes it: what was sent, A1111's defaults for the rest; images only on request. */
    private ObjectNode echo(RequestFields f, GenerationParams p, boolean includeInitImages) {
        ObjectNode echo = json.createObjectNode();
        echo.put("prompt", "");
        echo.put("negative_prompt", "");
        echo.put("seed", -1);
        echo.put("sampler_name", GenerationParams.DEFAULT_SAMPLER);
        echo.put("scheduler", "Automatic");
        echo.put("batch_size", 1);
        echo.put("n_iter", 1);
        echo.put("steps", GenerationParams.DEFAULT_STEPS);
        echo.put("cfg_scale", GenerationParams.DEFAULT_CFG);
        echo.put("width", GenerationParams.DEFAULT_SIZE);
        echo.put("height", GenerationParams.DEFAULT_SIZE);
        echo.putObject("override_settings");
        echo.put("send_images", true);
        echo.put("save_images", false);
        echo.setAll(f.node().deepCopy());
        if (!includeInitImages) {
            if (echo.has("init_images")) echo.putNull("init_images");
            if (echo.has("mask")) echo.putNull("mask");
        }
        return echo;
    }

    /** The job's answer, or its failure as the right status. */
    private static <T> T await(Future<T> future) {
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(ApiException.UNAVAILABLE, null, "the server is stopping");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof ApiException a) throw a;
            if (cause instanceof JDiffusionException j) throw new ApiException(ApiException.UNPROCESSABLE, null, j.getMessage());
            if (cause instanceof OutOfMemoryError) {
                throw new ApiException(ApiException.UNAVAILABLE, null,
                        "the server ran out of memory for this job; ask for a smaller size or batch");
            }
            if (cause instanceof RuntimeException r) throw r;
            throw new IllegalStateException(cause);
        }
    }

    // ------------------------------------------------------------------ progress

    void progress(Context ctx) {
        boolean skipImage = Boolean.parseBoolean(ctx.queryParam("skip_current_image"));
        JobQueue.Progress p = queue.running();
        ObjectNode out = json.createObjectNode();
        out.put("progress", p == null ? 0.0 : p.fraction());
        out.put("eta_relative", p == null ? 0.0 : p.etaSeconds());
        ObjectNode state = out.putObject("state");
        state.put("skipped", false);
        state.put("interrupted", p != null && p.interrupted());
        state.put("stopping_generation", false);
        state.put("job", p == null ? "" : "generate");
        state.put("job_count", p == null ? 0 : p.batches());
        state.put("job_timestamp", p == null ? "0" : p.timestamp);
        state.put("job_no", p == null ? 0 : p.batch());
        state.put("sampling_step", p == null ? 0 : p.step());
        state.put("sampling_steps", p == null ? 0 : p.totalSteps());
        Tensor latents = p == null || skipImage ? null : p.latents();
        if (latents != null) out.put("current_image", ImageData.toBase64(previews.png(latents, p.family())));
        else out.putNull("current_image");
        out.putNull("textinfo");
        out.putNull("current_task");
        out.put("queued", queue.waiting()); // ours: jobs waiting behind the running one
        send(ctx, out);
    }

    void interrupt(Context ctx) {
        queue.interrupt();
        send(ctx, json.createObjectNode());
    }

    // ------------------------------------------------------------------ models, samplers, options

    void samplers(Context ctx) {
        ArrayNode out = json.createArrayNode();
        for (SamplerId s : SamplerId.values()) {
            ObjectNode o = out.addObject();
            o.put("name", s.displayName);
            o.putArray("aliases").add(s.id);
            o.putObject("options").put("scheduler", s.scheduleType.toLowerCase(Locale.ROOT));
        }
        send(ctx, out);
    }

    void schedulers(Context ctx) {
        ArrayNode out = json.createArrayNode();
        for (String label : new String[]{"Automatic", "Karras"}) {
            ObjectNode o = out.addObject();
            o.put("name", label.toLowerCase(Locale.ROOT));
            o.put("label", label);
            o.putNull("aliases");
            o.put("default_rho", label.equals("Karras") ? 7.0 : -1.0);
            o.put("need_inner_model", false);
        }
        send(ctx, out);
    }

    void sdModels(Context ctx) {
        ArrayNode out = json.createArrayNode();
        for (ModelCatalog.Entry e : catalog.entries()) {
            ObjectNode o = out.addObject();
            o.put("title", catalog.title(e));
            o.put("model_name", e.modelName());
            String hash = catalog.hash(e);
            if (hash != null) o.put("hash", hash); else o.putNull("hash");
            o.putNull("sha256"); // only the short hash is computed (it reads the whole file once)
            o.put("filename", e.path().toString());
            o.putNull("config");
        }
        send(ctx, out);
    }

    void getOptions(Context ctx) {
        send(ctx, options());
    }

    /**
     * Sets the options we have: {@code sd_model_checkpoint} loads that model (queued behind running
     * jobs, answered once it is loaded); {@code CLIP_stop_at_last_layers} is the default clip skip.
     * Every value is checked before any is applied; other options are ignored.
     */
    void setOptions(Context ctx) {
        RequestFields f = RequestFields.of(body(ctx));
        String checkpoint = f.string("sd_model_checkpoint", null);
        ModelCatalog.Entry model = checkpoint == null ? null : catalog.resolve("sd_model_checkpoint", checkpoint);
        Integer clipSkip = f.has("CLIP_stop_at_last_layers")
                ? f.integer("CLIP_stop_at_last_layers", 1, 1, GenerationParams.MAX_CLIP_SKIP) : null;
        if (model != null) {
            await(queue.submit(progress -> {
                try {
                    catalog.use(model);
                } catch (JDiffusionException e) {
                    throw new ApiException(ApiException.UNPROCESSABLE, "sd_model_checkpoint",
                            "cannot load " + model.title() + ": " + e.getMessage());
                }
                return null;
            }));
        }
        if (clipSkip != null) settings.setClipSkip(clipSkip);
        send(ctx, options());
    }

    private ObjectNode options() {
        ObjectNode o = json.createObjectNode();
        ModelCatalog.Entry current = catalog.current();
        o.put("sd_model_checkpoint", catalog.title(current));
        String hash = catalog.hash(current);
        if (hash != null) o.put("sd_checkpoint_hash", hash); else o.putNull("sd_checkpoint_hash");
        o.put("CLIP_stop_at_last_layers", settings.clipSkip());
        o.put("samples_format", "png");
        return o;
    }

    // ------------------------------------------------------------------ png-info

    /** {@code {"image": base64 PNG}} → its infotext, parsed as A1111's PNG Info tab does. */
    void pngInfo(Context ctx) {
        RequestFields f = RequestFields.of(body(ctx));
        String image = f.string("image", null);
        if (image == null) throw ApiException.invalid("image", "is required (a base64-encoded PNG)");
        Png.Image png = ImageData.png("image", ImageData.base64("image", image), settings.maxPixels());
        String text = png.text().getOrDefault("parameters", "");
        ObjectNode out = json.createObjectNode();
        out.put("info", text);
        ObjectNode items = out.putObject("items");
        for (Map.Entry<String, String> e : png.text().entrySet()) {
            if (!e.getKey().equals("parameters")) items.put(e.getKey(), e.getValue());
        }
        ObjectNode params = out.putObject("parameters");
        if (!text.isEmpty()) {
            Infotext info = Infotext.parse(text);
            params.put("Prompt", info.prompt());
            params.put("Negative prompt", info.negativePrompt());
            for (Map.Entry<String, String> e : info.parameters().entrySet()) {
                params.put(e.getKey(), e.getValue());
                if (e.getKey().equals("Size")) { // A1111 also gives the two numbers
                    String[] wh = e.getValue().split("x", 2);
                    if (wh.length == 2) {
                        params.put("Size-1", wh[0].strip());
                        params.put("Size-2", wh[1].strip());
                    }
                }
            }
        }
        send(ctx, out);
    }

    // ------------------------------------------------------------------ plumbing

    /**
     * The request body as JSON, read with the server's size limit (413 past it) and parsed strictly
     * (400 for anything that is not one JSON value).
     */
    private JsonNode body(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        long limit = settings.maxBodyBytes();
        byte[] bytes;
        try (var in = ctx.req().getInputStream()) {
            if (declared > limit) throw tooLarge(limit, in);
            bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
            if (bytes.length > limit) throw tooLarge(limit, in);
        } catch (java.io.IOException e) {
            throw new ApiException(ApiException.BAD_REQUEST, "body", "could not be read (" + e.getMessage() + ")");
        }
        if (bytes.length == 0) throw new ApiException(ApiException.BAD_REQUEST, "body", "is empty; expected a JSON object");
        try {
            JsonNode node = json.readTree(bytes);
            if (node == null || node.isMissingNode()) {
                throw new ApiException(ApiException.BAD_REQUEST, "body", "is empty; expected a JSON object");
            }
            return node;
        } catch (java.io.IOException e) {
            String msg = e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe ? jpe.getOriginalMessage() : e.getMessage();
            msg = msg == null ? "" : msg.lines().findFirst().orElse("");
            if (msg.length() > 200) msg = msg.substring(0, 200) + "...";
            throw new ApiException(ApiException.BAD_REQUEST, "body", "is not valid JSON (" + msg + ")");
        }
    }

    /** How much of a too-large body is read and dropped before the 413 goes out (see {@link #tooLarge}). */
    private static final long MAX_DRAINED_BYTES = 64L << 20;

    /**
     * The 413 for a body past the limit, after reading what the client is still sending (up to
     * {@link #MAX_DRAINED_BYTES}): a connection closed with unread input is reset, and the reset can destroy the
     * answer before the client reads it, which then sees no response at all.
     */
    private static ApiException tooLarge(long limit, java.io.InputStream unread) throws java.io.IOException {
        long drained = 0, n;
        while (drained < MAX_DRAINED_BYTES && (n = unread.skip(MAX_DRAINED_BYTES - drained)) > 0) drained += n;
        return new ApiException(ApiException.PAYLOAD_TOO_LARGE, "body", "is larger than this server's limit of "
                + limit + " bytes");
    }

    private void send(Context ctx, JsonNode body) {
        try {
            ctx.contentType("application/json").result(json.writeValueAsBytes(body));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
