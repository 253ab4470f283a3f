package io.jdiffusion.server;

/**
 * A request the server refuses, answered as JSON with a 4xx (or 501/503) status:
 * {@code {"error": ..., "field": ..., "detail": "field: problem"}}.
 *
 * @see ErrorResponses
 */
final class ApiException extends RuntimeException {
    static final int BAD_REQUEST = 400;
    static final int UNAUTHORIZED = 401;
    static final int NOT_FOUND = 404;
    static final int PAYLOAD_TOO_LARGE = 413;
    /** What A1111 (FastAPI) answers for a request whose fields do not validate. */
    static final int UNPROCESSABLE = 422;
    static final int NOT_IMPLEMENTED = 501;
    static final int UNAVAILABLE = 503;

    final int status;
    /** The request field at fault ("steps", "init_images[0]", "body"), or null when none is. */
    final String field;

    ApiException(int status, String field, String problem) {
        super(field == null ? problem : field + ": " + problem);
        this.status = status;
        this.field = field;
    }

    /** A field whose value is of the wrong type or outside its range. */
    static ApiException invalid(String field, String problem) {
        return new ApiException(UNPROCESSABLE, field, problem);
    }
}
