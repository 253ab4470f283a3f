package io.jdiffusion.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BigIntegerNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.JDiffusionException;
import io.jdiffusion.io.Png;
import io.jdiffusion.model.addon.ExtraNetworks;
import io.jdiffusion.model.addon.ModelAddons;
import io.jdiffusion.pipeline.GeneratedImage;
import io.jdiffusion.pipeline.Infotext;
import io.jdiffusion.pipeline.LoadedModel;
import io.jdiffusion.pipeline.Txt2ImgRequest;
import io.jdiffusion.sampling.StepListener;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One txt2img or img2img job as the generation thread runs it (model, then each batch in turn,
 * stopping early when interrupted), and its answer in A1111's shape.
 */
final class Generation {

    /**
     * What a job made.
     *
     * @param seeds the seed of each image's batch: with it and the same batch size the image is made again
     */
    record Result(GenerationParams params, ModelCatalog.Entry model, String modelHash, List<GeneratedImage> images,
                  List<Long> seeds, boolean interrupted, String timestamp, Double denoisingStrength) {
    }

    private Generation() {
    }

    /** Makes one batch of images: {@code Txt2Img::run}, or an img2img pipeline with the job's init image. */
    @FunctionalInterface
    interface BatchRunner {
        List<GeneratedImage> run(LoadedModel model, Txt2ImgRequest request, StepListener listener);
    }

    /** Runs on the generation thread: loads the model the job asks for, then each batch in turn. */
    static Result run(ModelCatalog catalog, GenerationParams p, boolean watermark, BatchRunner runner,
                      Double denoisingStrength, JobQueue.Progress progress) {
        ModelCatalog.Entry entry = p.model() != null ? p.model() : catalog.current();
        ModelAddons addons = promptAddons(catalog, p.prompt());
        LoadedModel model;
        try {
            model = catalog.use(entry, addons);
        } catch (JDiffusionException e) {
            if (!addons.isEmpty()) throw ApiException.invalid("prompt", "cannot put its LoRAs/hypernetworks on " + entry.title() + ": " + e.getMessage());
            throw new ApiException(ApiException.UNPROCESSABLE, "sd_model_checkpoint",
                    "cannot load " + entry.title() + ": " + e.getMessage());
        }
        progress.family(model.model().family());
        List<GeneratedImage> images = new ArrayList<>();
        List<Long> seeds = new ArrayList<>();
        for (int k = 0; k < p.batches() && !progress.interrupted(); k++) {
            StepListener listener = progress.listener(k, p.batches());
            Txt2ImgRequest request = p.request(entry.path(), k, watermark);
            List<GeneratedImage> batch = runner.run(model, request, listener);
            images.addAll(batch);
            for (int i = 0; i < batch.size(); i++) seeds.add(request.seed());
        }
        catalog.rememberHash(entry, model);
        return new Result(p, entry, model.modelHash(), images, seeds, progress.interrupted(), progress.timestamp,
                denoisingStrength);
    }

    /**
     * The LoRAs and hypernetworks the prompt's {@code <lora:NAME:W>} / {@code <hypernet:NAME:S>} tags name, as A1111
     * applies them: found in the server's A1111 folder ({@code --models-dir}); a 422 on {@code prompt} when a tag is
     * malformed, names nothing there, or there is no such folder.
     */
    static ModelAddons promptAddons(ModelCatalog catalog, String prompt) {
        try {
            return ModelAddons.fromTags(ExtraNetworks.extract(prompt), catalog.a1111());
        } catch (JDiffusionException e) {
            String message = e.getMessage() == null ? "" : e.getMessage();
            throw ApiException.invalid("prompt", message.startsWith("prompt: ") ? message.substring("prompt: ".length()) : message);
        }
    }

    /** A PNG carrying the image's infotext in its {@code parameters} chunk, as the CLI writes it. */
    static byte[] png(GeneratedImage image) {
        return Png.encode(image.width(), image.height(), image.rgb(), Map.of("parameters", image.infotext()));
    }

    /**
     * {@code {"images": [...], "parameters": {...}, "info": "<JSON>"}}; {@code parameters} echoes the
     * request with A1111's defaults filled in.
     */
    static ObjectNode response(ObjectMapper json, Result r, ObjectNode echo) {
        ObjectNode out = json.createObjectNode();
        ArrayNode images = out.putArray("images");
        if (r.params().sendImages()) {
            for (GeneratedImage image : r.images()) images.add(ImageData.toBase64(png(image)));
        }
        out.set("parameters", echo);
        try {
            out.put("info", json.writeValueAsString(info(json, r)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e); // a tree of plain values always serializes
        }
        return out;
    }

    /** A1111's "info" object, describing what was made. */
    static ObjectNode info(ObjectMapper json, Result r) {
        GenerationParams p = r.params();
        ObjectNode info = json.createObjectNode();
        info.put("prompt", p.prompt());
        ArrayNode prompts = info.putArray("all_prompts");
        ArrayNode negatives = info.putArray("all_negative_prompts");
        ArrayNode seeds = info.putArray("all_seeds");
        ArrayNode subseeds = info.putArray("all_subseeds");
        ArrayNode infotexts = json.createArrayNode();
        for (int i = 0; i < r.images().size(); i++) {
            prompts.add(p.prompt());
            negatives.add(p.negativePrompt());
            seeds.add(unsigned(r.seeds().get(i)));
            subseeds.add(-1);
            infotexts.add(r.images().get(i).infotext());
        }
        info.put("negative_prompt", p.negativePrompt());
        info.set("seed", unsigned(p.seed()));
        info.put("subseed", -1);
        info.put("subseed_strength", 0);
        info.put("width", p.width());
        info.put("height", p.height());
        info.put("sampler_name", p.sampler().a1111Name);
        info.put("scheduler", p.sampler().scheduleType);
        info.put("cfg_scale", p.cfgScale());
        info.put("steps", p.steps());
        info.put("batch_size", p.batchSize());
        info.put("n_iter", p.batches());
        info.put("restore_faces", false);
        info.put("sd_model_name", r.model().modelName());
        if (r.modelHash() != null) info.put("sd_model_hash", r.modelHash()); else info.putNull("sd_model_hash");
        if (r.denoisingStrength() != null) info.put("denoising_strength", r.denoisingStrength()); else info.putNull("denoising_strength");
        info.put("clip_skip", p.clipSkip());
        info.putObject("extra_generation_params").put("Schedule type", p.sampler().scheduleType);
        info.put("index_of_first_image", 0);
        info.set("infotexts", infotexts);
        info.putArray("styles");
        info.put("job_timestamp", r.timestamp());
        info.put("interrupted", r.interrupted());
        info.put("version", Infotext.version());
        return info;
    }

    /** A seed as JSON: a plain number, read as unsigned 64-bit. */
    private static JsonNode unsigned(long seed) {
        return seed >= 0 ? LongNode.valueOf(seed) : BigIntegerNode.valueOf(new BigInteger(Long.toUnsignedString(seed)));
    }
}
