package io.jdiffusion.hub;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Which files of a diffusers repository the pipeline reads: {@code model_index.json}, and for each
 * component it uses the folder's configs and tokenizer files and one weights file per network, the
 * fp16 {@code .safetensors} variant when there is one (half the download; the loader computes in
 * float32 either way). A depth model's components include its DPT depth estimator and that one's image
 * processor. Everything else (other variants, .bin duplicates, ONNX/Flax exports, the safety
 * checker, single-file checkpoints next to the folders) stays on the Hub.
 */
final class ModelFiles {
    static final String MODEL_INDEX = "model_index.json";

    /** The components the txt2img pipeline loads. */
    private static final Set<String> USED_COMPONENTS = Set.of(
            "unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler",
            "low_res_scheduler"); // the x4 upscaler's schedule for noising its input

    /** A depth model's DPT estimator and its image processor, which depth2img runs when no depth map is given. */
    private static final Set<String> DEPTH_COMPONENTS = Set.of("depth_estimator", "feature_extractor");

    /** Weight file preference within one network, best first (each a suffix after the base name). */
    private static final List<String> WEIGHT_CHOICES = List.of(".fp16.safetensors", ".safetensors", ".fp16.bin", ".bin");

    private ModelFiles() {
    }

    /**
     * The files to fetch, from the revision's file list and its model_index.json. Only components the
     * index names (with a class, not {@code [null, null]}) and the pipeline uses are taken.
     */
    static List<String> select(Collection<String> files, JsonNode modelIndex) {
        List<String> chosen = new ArrayList<>();
        if (files.contains(MODEL_INDEX)) chosen.add(MODEL_INDEX);
        // feature_extractor is the depth estimator's processor only in depth models (elsewhere the safety checker's)
        boolean depthModel = present(modelIndex.get("depth_estimator"));
        for (var entry : modelIndex.properties()) {
            String component = entry.getKey();
            boolean used = USED_COMPONENTS.contains(component) || depthModel && DEPTH_COMPONENTS.contains(component);
            if (used && present(entry.getValue())) chosen.addAll(componentFiles(files, component));
        }
        return chosen;
    }

    /** The index names the component with a library and class, not {@code [null, null]}. */
    private static boolean present(JsonNode value) {
        return value != null && value.isArray() && value.size() == 2 && !value.get(1).isNull();
    }

    /**
     * The files of a repository that holds one component at its top (a VAE or TAESD repository such as
     * {@code madebyollin/taesd}): its configs and its best weights file per base name.
     */
    static List<String> selectTopComponent(Collection<String> files) {
        return componentFiles(files, "");
    }

    /** A component folder's configs and text files, and its best weights file per base name ("" = the top). */
    private static List<String> componentFiles(Collection<String> files, String component) {
        String prefix = component.isEmpty() ? "" : component + "/";
        List<String> chosen = new ArrayList<>();
        Map<String, String> bestWeights = new TreeMap<>(); // base name -> file
        for (String file : files) {
            if (!file.startsWith(prefix) || file.indexOf('/', prefix.length()) >= 0) continue; // only directly in the folder
            String name = file.substring(prefix.length());
            if (name.endsWith(".json") || name.endsWith(".txt") || name.endsWith(".model")) {
                chosen.add(file);
                continue;
            }
            String base = weightsBase(name);
            if (base == null) continue;
            String current = bestWeights.get(base);
            if (current == null || rank(name) < rank(current)) bestWeights.put(base, file);
        }
        chosen.addAll(bestWeights.values());
        return chosen;
    }

    /**
     * "diffusion_pytorch_model.fp16.safetensors" -> "diffusion_pytorch_model"; null for anything not a weights file.
     * transformers names one network's safetensors "model" and its .bin "pytorch_model": one base for both.
     */
    private static String weightsBase(String name) {
        for (String suffix : WEIGHT_CHOICES) {
            if (name.endsWith(suffix)) {
                String base = name.substring(0, name.length() - suffix.length());
                return base.equals("pytorch_model") ? "model" : base;
            }
        }
        return null;
    }

    /** Where the file's kind stands in WEIGHT_CHOICES (lower is better). */
    private static int rank(String name) {
        for (int i = 0; i < WEIGHT_CHOICES.size(); i++) {
            if (name.endsWith(WEIGHT_CHOICES.get(i))) return i;
        }
        return WEIGHT_CHOICES.size();
    }
}
