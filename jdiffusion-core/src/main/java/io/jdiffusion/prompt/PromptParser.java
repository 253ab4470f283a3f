package io.jdiffusion.prompt;

import io.jdiffusion.JDiffusionException;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A1111's emphasis syntax (its {@code parse_prompt_attention}): the prompt becomes runs of text, each with
 * the weight its brackets give it, and BREAK markers.
 * <ul>
 *   <li>{@code (text)} multiplies the weight by 1.1, {@code [text]} divides it by 1.1; nesting multiplies;</li>
 *   <li>{@code (text:1.5)} multiplies it by 1.5 (a sign and spaces around the number are allowed);</li>
 *   <li>{@code \(}, {@code \)}, {@code \[}, {@code \]}, {@code \\} are the literal characters; a lone
 *       backslash is dropped;</li>
 *   <li>a closing bracket with no opening one is plain text; brackets still open at the end apply to
 *       everything after them;</li>
 *   <li>{@code BREAK} as a word (upper case) ends the current 75-token chunk;</li>
 *   <li>neighbouring runs of equal weight are joined; an empty prompt is one empty run of weight 1.</li>
 * </ul>
 * Weights are doubles multiplied in the order A1111 multiplies them (inner brackets first), so they are the
 * same numbers (1.1 · 1.1 · 1.3 = 1.5730000000000004).
 */
public final class PromptParser {
    public static final double ROUND_BRACKET = 1.1;
    public static final double SQUARE_BRACKET = 1 / 1.1;

    /**
     * The prompt's pieces, tried in this order at each position: the five escapes, a lone backslash, the
     * opening brackets, ":weight)" (group 1), the closing brackets, a run of ordinary characters, a colon.
     */
    private static final Pattern PIECE = Pattern.compile(
            "\\\\\\(|\\\\\\)|\\\\\\[|\\\\]|\\\\\\\\|\\\\|\\(|\\[|:\\s*([+-]?[.\\d]+)\\s*\\)|\\)|]|[^\\\\()\\[\\]:]+|:",
            Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern BREAK = Pattern.compile("\\s*\\bBREAK\\b\\s*", Pattern.UNICODE_CHARACTER_CLASS | Pattern.DOTALL);

    /**
     * One run of the parsed prompt.
     *
     * @param isBreak a BREAK marker (text "BREAK", weight -1, as A1111 marks it)
     */
    public record Fragment(String text, double weight, boolean isBreak) {
        public static Fragment text(String text, double weight) {
            return new Fragment(text, weight, false);
        }

        public static final Fragment BREAK = new Fragment("BREAK", -1, true);
    }

    private PromptParser() {
    }

    public static List<Fragment> parse(String prompt) {
        List<String> texts = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        List<Boolean> breaks = new ArrayList<>();
        List<Integer> round = new ArrayList<>(), square = new ArrayList<>();
        Matcher m = PIECE.matcher(prompt);
        while (m.find()) {
            String piece = m.group();
            String weight = m.group(1);
            if (piece.startsWith("\\")) {
                add(texts, weights, breaks, piece.substring(1), false);
            } else if (piece.equals("(")) {
                round.add(texts.size());
            } else if (piece.equals("[")) {
                square.add(texts.size());
            } else if (weight != null && !round.isEmpty()) {
                multiply(weights, breaks, round.removeLast(), number(weight, prompt));
            } else if (piece.equals(")") && !round.isEmpty()) {
                multiply(weights, breaks, round.removeLast(), ROUND_BRACKET);
            } else if (piece.equals("]") && !square.isEmpty()) {
                multiply(weights, breaks, square.removeLast(), SQUARE_BRACKET);
            } else {
                String[] parts = BREAK.split(piece, -1);
                for (int i = 0; i < parts.length; i++) {
                    if (i > 0) add(texts, weights, breaks, "BREAK", true);
                    add(texts, weights, breaks, parts[i], false);
                }
            }
        }
        for (int start : round) multiply(weights, breaks, start, ROUND_BRACKET);
        for (int start : square) multiply(weights, breaks, start, SQUARE_BRACKET);

        List<Fragment> out = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            if (breaks.get(i)) {
                out.add(Fragment.BREAK);
                continue;
            }
            Fragment last = out.isEmpty() ? null : out.getLast();
            if (last != null && !last.isBreak() && last.weight() == weights.get(i)) {
                out.set(out.size() - 1, Fragment.text(last.text() + texts.get(i), last.weight()));
            } else {
                out.add(Fragment.text(texts.get(i), weights.get(i)));
            }
        }
        if (out.isEmpty()) out.add(Fragment.text("", 1.0));
        return out;
    }

    private static void add(List<String> texts, List<Double> weights, List<Boolean> breaks, String text, boolean isBreak) {
        texts.add(text);
        weights.add(isBreak ? -1.0 : 1.0);
        breaks.add(isBreak);
    }

    /** Every run from {@code start} on gets the factor; BREAK markers keep their meaning inside brackets. */
    private static void multiply(List<Double> weights, List<Boolean> breaks, int start, double factor) {
        for (int i = start; i < weights.size(); i++) {
            if (!breaks.get(i)) weights.set(i, weights.get(i) * factor);
        }
    }

    /** The number in "(text:1.5)", digits of any script allowed as in A1111 (Python's float). */
    private static double number(String text, String prompt) {
        StringBuilder ascii = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            ascii.append(Character.isDigit(c) ? (char) ('0' + Character.digit(c, 10)) : c);
        }
        try {
            return Double.parseDouble(ascii.toString());
        } catch (NumberFormatException e) {
            throw new JDiffusionException("prompt: the weight '" + text + "' in '" + prompt + "' is not a number");
        }
    }
}
