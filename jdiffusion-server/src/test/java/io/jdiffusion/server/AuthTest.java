package io.jdiffusion.server;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** With --api-auth every route, the page included, needs HTTP basic auth. */
class AuthTest {
    private static JDiffusionServer server;

    @BeforeAll
    static void start() {
        String model = Fixtures.require("tiny-sd15.safetensors").toString();
        server = JDiffusionServer.start(ServerOptions.of(model, null).withPort(0).withApiAuth("alice:s3cret,bob:pa:ss"));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Test
    void everyRouteRequiresCredentials() {
        ApiClient anonymous = new ApiClient(server);
        for (String path : new String[]{"/", "/app.js", "/sdapi/v1/options", "/sdapi/v1/progress", "/sdapi/v1/sd-models", "/sdapi/v1/nope"}) {
            ApiClient.Reply reply = anonymous.get(path);
            assertThat(reply.status()).as(path).isEqualTo(401);
            assertThat(reply.headers().firstValue("WWW-Authenticate").orElse("")).startsWith("Basic ");
            assertThat(reply.json().get("error").asText()).isEqualTo("Unauthorized");
        }
        // a generation request is refused before its body is even looked at
        assertThat(anonymous.postRaw("/sdapi/v1/txt2img", "{\"steps\": 1}").status()).isEqualTo(401);
        assertThat(anonymous.post("/sdapi/v1/interrupt", ApiClient.object()).status()).isEqualTo(401);
    }

    @Test
    void wrongCredentialsAreRefused() {
        assertThat(new ApiClient(server, "alice:wrong").get("/sdapi/v1/options").status()).isEqualTo(401);
        assertThat(new ApiClient(server, "mallory:s3cret").get("/sdapi/v1/options").status()).isEqualTo(401);
        assertThat(new ApiClient(server, "alice:s3cret2").get("/sdapi/v1/options").status()).isEqualTo(401);
    }

    @Test
    void rightCredentialsAreAccepted() {
        assertThat(new ApiClient(server, "alice:s3cret").get("/sdapi/v1/options").status()).isEqualTo(200);
        assertThat(new ApiClient(server, "bob:pa:ss").get("/").status()).isEqualTo(200); // passwords may hold colons
    }

    @Test
    void malformedAuthSpecIsAOneLineError() {
        assertThatThrownBy(() -> ServerOptions.of("m", null).withApiAuth("nopassword").validate())
                .isInstanceOf(JDiffusionException.class).hasMessageStartingWith("--api-auth:");
    }
}
