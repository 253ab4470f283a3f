package io.jdiffusion.cli;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.hub.HubSettings;
import io.jdiffusion.hub.ModelSource;
import io.jdiffusion.model.TaesdLoader;
import io.jdiffusion.server.JDiffusionServer;
import io.jdiffusion.server.PreviewImages;
import io.jdiffusion.server.ServerOptions;
import io.jdiffusion.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jdiffusion serve}: the web page and AUTOMATIC1111's HTTP API, with the model kept loaded. */
@Command(name = "serve",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        description = "Serve the web page and an AUTOMATIC1111-compatible HTTP API (/sdapi/v1/...).",
        footer = {"", "Open the printed address in a browser. Stop with Ctrl-C."})
final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--host", paramLabel = "ADDR", defaultValue = ServerOptions.DEFAULT_HOST,
            description = "Address to listen on (default: ${DEFAULT-VALUE}, this machine only; 0.0.0.0 for every network).")
    String host;

    @Option(names = "--port", paramLabel = "N", defaultValue = "" + ServerOptions.DEFAULT_PORT,
            description = "Port to listen on, 0 for any free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--model", paramLabel = "M",
            description = "The model to load first: a checkpoint file, a diffusers folder, or a model's name in --models-dir.")
    String model;

    @Option(names = "--models-dir", paramLabel = "DIR",
            description = "A folder of .safetensors checkpoints and diffusers folders to choose from.")
    Path modelsDir;

    @Option(names = "--api-auth", paramLabel = "USER:PASS",
            description = "Require HTTP basic auth on every route (several pairs separated by commas).")
    String apiAuth;

    @Option(names = "--queue-size", paramLabel = "N", defaultValue = "" + ServerOptions.DEFAULT_QUEUE_SIZE,
            description = "Requests that may wait behind the running one; more get 503 (default: ${DEFAULT-VALUE}).")
    int queueSize;

    @Option(names = "--no-watermark", description = "Do not add the invisible watermark.")
    boolean noWatermark;

    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--preview", paramLabel = "KIND", defaultValue = "linear",
            description = "How /sdapi/v1/progress draws current_image: linear (a latent→RGB mix at 1/8 size) or taesd (the tiny "
                    + "autoencoder at full size, " + TaesdLoader.HUB_SD + " or " + TaesdLoader.HUB_SDXL
                    + " from the Hub, fetched when first needed) (default: ${DEFAULT-VALUE}).")
    String preview;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        if (threads != null && threads < 1) throw new JDiffusionException("--threads: " + threads + " must be at least 1");
        if (model == null && modelsDir == null) throw new JDiffusionException("--model: no model given (use --model or --models-dir)");
        ServerOptions options = ServerOptions.of(model, modelsDir).withHost(host).withPort(port).withApiAuth(apiAuth)
                .withQueueSize(queueSize).withWatermark(!noWatermark).validate();
        if (threads != null) Parallel.setThreads(threads);
        PreviewImages previews = previews(err);

        JDiffusionServer server = JDiffusionServer.start(options, previews);
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "jdiffusion-stop"));
        if (apiAuth == null && !isLoopback(host)) {
            err.println("warning: listening on " + host + " without --api-auth: anyone who can reach this machine can use it");
        }
        err.println("jdiffusion: serving on " + server.url() + " (API at " + server.url() + "sdapi/v1/)");
        err.flush();
        try {
            server.join();
        } finally {
            server.close(); // also when this thread is interrupted rather than the JVM stopped
        }
        return 0;
    }

    /** --preview: the linear mix, or each family's TAESD from the Hub (its cache first), fetched when first needed. */
    private PreviewImages previews(PrintWriter err) {
        if (preview.equalsIgnoreCase("linear")) return PreviewImages.LINEAR;
        if (!preview.equalsIgnoreCase("taesd")) throw new JDiffusionException("--preview: '" + preview + "' is not linear or taesd");
        HubSettings hub = HubSettings.fromEnvironment();
        return PreviewImages.taesd(family -> ModelSource.resolveComponent(TaesdLoader.hubRepo(family), hub, err));
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
