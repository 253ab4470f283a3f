package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * Typed reading of a JSON request object, field by field, the way A1111's request models accept
 * values (pydantic's coercions: {@code 20}, {@code 20.0} and {@code "20"} are all the integer 20;
 * {@code null} or a missing field takes the default). Anything else is an {@link ApiException} that
 * names the field. Fields the server does not know are never looked at, so they are ignored.
 */
final class RequestFields {
    private static final BigInteger MAX_UNSIGNED_LONG = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    private final ObjectNode node;
    /** Prefix of this object's field names in messages ("" at top level, "override_settings." inside it). */
    private final String path;

    private RequestFields(ObjectNode node, String path) {
        this.node = node;
        this.path = path;
    }

    /** The fields of a request body, which must be a JSON object. */
    static RequestFields of(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw new ApiException(ApiException.UNPROCESSABLE, "body", "must be a JSON object");
        }
        return new RequestFields((ObjectNode) body, "");
    }

    ObjectNode node() {
        return node;
    }

    String name(String field) {
        return path + field;
    }

    boolean has(String field) {
        JsonNode v = node.get(field);
        return v != null && !v.isNull();
    }

    JsonNode raw(String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v;
    }

    /** A nested object ({@code override_settings}); an empty one when missing. */
    RequestFields object(String field) {
        JsonNode v = raw(field);
        if (v == null) return new RequestFields(node.objectNode(), name(field) + ".");
        if (!v.isObject()) throw ApiException.invalid(name(field), "must be a JSON object");
        return new RequestFields((ObjectNode) v, name(field) + ".");
    }

    String string(String field, String fallback) {
        JsonNode v = raw(field);
        if (v == null) return fallback;
        if (!v.isTextual()) throw ApiException.invalid(name(field), "must be a string, not " + describe(v));
        return v.textValue();
    }

    boolean bool(String field, boolean fallback) {
        JsonNode v = raw(field);
        if (v == null) return fallback;
        if (v.isBoolean()) return v.booleanValue();
        if (v.isTextual()) {
            switch (v.textValue().strip().toLowerCase(java.util.Locale.ROOT)) {
                case "true", "1", "yes", "on" -> { return true; }
                case "false", "0", "no", "off" -> { return false; }
                default -> { }
            }
        }
        if (v.isIntegralNumber() && (v.asLong() == 0 || v.asLong() == 1)) return v.asLong() == 1;
        throw ApiException.invalid(name(field), "must be true or false, not " + describe(v));
    }

    int integer(String field, int fallback, int min, int max) {
        JsonNode v = raw(field);
        if (v == null) return fallback;
        BigInteger value = integral(field, v);
        if (value.compareTo(BigInteger.valueOf(min)) < 0 || value.compareTo(BigInteger.valueOf(max)) > 0) {
            throw ApiException.invalid(name(field), value + " is outside " + min + ".." + max);
        }
        return value.intValueExact();
    }

    double number(String field, double fallback, double min, double max) {
        JsonNode v = raw(field);
        if (v == null) return fallback;
        double value;
        if (v.isNumber()) {
            value = v.doubleValue();
        } else if (v.isTextual()) {
            try {
                value = Double.parseDouble(v.textValue().strip());
            } catch (NumberFormatException e) {
                throw ApiException.invalid(name(field), "must be a number, not " + describe(v));
            }
        } else {
            throw ApiException.invalid(name(field), "must be a number, not " + describe(v));
        }
        if (!Double.isFinite(value) || value < min || value > max) {
            throw ApiException.invalid(name(field), v.asText() + " is outside " + plain(min) + ".." + plain(max));
        }
        return value;
    }

    /**
     * A seed: -1 (or any negative number, as A1111 treats them) for "random", else an unsigned 64-bit
     * number as torch's manual_seed takes it. Returns null for "random".
     */
    Long seed(String field) {
        JsonNode v = raw(field);
        if (v == null) return null;
        BigInteger value = integral(field, v);
        if (value.signum() < 0) return null;
        if (value.compareTo(MAX_UNSIGNED_LONG) > 0) {
            throw ApiException.invalid(name(field), value + " is outside -1 (random) and 0..18446744073709551615");
        }
        return value.longValue(); // the unsigned value's bits
    }

    private BigInteger integral(String field, JsonNode v) {
        try {
            if (v.isIntegralNumber()) return v.bigIntegerValue();
            if (v.isNumber()) return v.decimalValue().toBigIntegerExact(); // 20.0 is 20; 20.5 throws
            if (v.isTextual()) return new BigDecimal(v.textValue().strip()).toBigIntegerExact();
        } catch (ArithmeticException | NumberFormatException e) {
            // falls through to the message below
        }
        throw ApiException.invalid(name(field), "must be a whole number, not " + describe(v));
    }

    /** How a wrong value is shown in a message: short, and never the whole of a long string. */
    static String describe(JsonNode v) {
        if (v.isTextual()) {
            String s = v.textValue();
            return "the string \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
        }
        if (v.isArray()) return "an array";
        if (v.isObject()) return "an object";
        if (v.isBoolean()) return v.asText();
        String s = v.asText();
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    private static String plain(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
