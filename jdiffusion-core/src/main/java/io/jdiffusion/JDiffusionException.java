package io.jdiffusion;

/**
 * A problem the user can fix: a missing or malformed file, an unsupported model, a bad parameter.
 * The message is one line that names the file or the parameter and the problem; the CLI prints it
 * without a stack trace and exits non-zero.
 */
public class JDiffusionException extends RuntimeException {
    public JDiffusionException(String message) {
        super(message);
    }

    public JDiffusionException(String message, Throwable cause) {
        super(message, cause);
    }
}
