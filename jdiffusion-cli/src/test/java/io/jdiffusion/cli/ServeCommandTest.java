package io.jdiffusion.cli;

import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jdiffusion serve}: bad flags are one-line errors; good ones serve until stopped. */
class ServeCommandTest {
    @TempDir
    Path dir;

    private record Result(int exitCode, String err) {
    }

    private Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), dir).execute(args);
        return new Result(code, err.toString());
    }

    private static void assertOneLineError(Result r, String flag) {
        assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
        assertThat(r.err().lines().toList()).hasSize(1);
        assertThat(r.err()).startsWith("error: " + flag + ":");
    }

    @Test
    void badFlagsAreOneLineErrors() {
        String tiny = Fixtures.require("tiny-sd15.safetensors").toString();
        assertOneLineError(run("serve"), "--model");
        assertOneLineError(run("serve", "--model", dir.resolve("missing.safetensors").toString()), "--model");
        assertOneLineError(run("serve", "--models-dir", dir.resolve("nowhere").toString()), "--models-dir");
        assertOneLineError(run("serve", "--models-dir", dir.toString()), "--models-dir");
        assertOneLineError(run("serve", "--model", tiny, "--port", "70000"), "--port");
        assertOneLineError(run("serve", "--model", tiny, "--queue-size", "-1"), "--queue-size");
        assertOneLineError(run("serve", "--model", tiny, "--api-auth", "just-a-name"), "--api-auth");
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void servesUntilStopped() throws Exception {
        String tiny = Fixtures.require("tiny-sd15.safetensors").toString();
        StringWriter err = new StringWriter();
        int[] exit = {-1};
        Thread serving = new Thread(() -> exit[0] = Main.commandLine(new PrintWriter(new StringWriter(), true),
                new PrintWriter(err, true), dir).execute("serve", "--model", tiny, "--port", "0"));
        serving.start();
        Matcher url = Pattern.compile("serving on (http://\\S+/) ").matcher("");
        while (!url.reset(err.toString()).find()) {
            assertThat(serving.isAlive()).as(err.toString()).isTrue();
            Thread.sleep(50);
        }
        HttpResponse<String> options = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(url.group(1) + "sdapi/v1/options")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(options.statusCode()).isEqualTo(200);
        assertThat(options.body()).contains("tiny-sd15.safetensors");

        serving.interrupt();
        serving.join();
        assertThat(exit[0]).isNotZero(); // stopped by an interrupt, not a clean exit
        assertThat(catchRefused(url.group(1))).as("the port is closed once the command ends").isTrue();
    }

    private static boolean catchRefused(String url) throws InterruptedException {
        try {
            HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
            return false;
        } catch (java.io.IOException e) {
            return true;
        }
    }
}
