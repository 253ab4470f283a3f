package io.jdiffusion.server;

import io.jdiffusion.JDiffusionException;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * HTTP basic auth as A1111's {@code --api-auth} takes it: "user:pass", several separated by commas.
 */
final class BasicAuth {
    private final List<byte[]> accepted; // "user:pass" bytes, compared in constant time

    private BasicAuth(List<byte[]> accepted) {
        this.accepted = accepted;
    }

    static BasicAuth parse(String spec) {
        List<byte[]> accepted = new ArrayList<>();
        for (String pair : spec.split(",")) {
            String p = pair.strip();
            int colon = p.indexOf(':');
            if (colon <= 0 || colon == p.length() - 1) {
                throw new JDiffusionException("--api-auth: expected USER:PASS (several separated by commas)");
            }
            accepted.add(p.getBytes(StandardCharsets.UTF_8));
        }
        return new BasicAuth(accepted);
    }

    /** Whether an Authorization header carries one of the accepted user:password pairs. */
    boolean allows(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) return false;
        byte[] given;
        try {
            given = Base64.getDecoder().decode(authorization.substring(6).strip());
        } catch (IllegalArgumentException e) {
            return false;
        }
        boolean ok = false;
        for (byte[] a : accepted) ok |= MessageDigest.isEqual(a, given);
        return ok;
    }
}
