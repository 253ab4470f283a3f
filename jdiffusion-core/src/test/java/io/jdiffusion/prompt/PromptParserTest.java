package io.jdiffusion.prompt;

import io.jdiffusion.JDiffusionException;
import io.jdiffusion.prompt.PromptParser.Fragment;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The weights A1111 gives each fragment of a prompt. Sources:
 * <ul>
 *   <li>[doctest] the examples in the docstring of {@code parse_prompt_attention} in A1111's
 *       {@code modules/prompt_parser.py} (run by its doctest), with the exact doubles they print;</li>
 *   <li>[wiki] A1111's wiki, Features → "Attention/emphasis": {@code (word)} ×1.1, {@code ((word))} ×1.21,
 *       {@code [word]} ÷1.1, {@code (word:1.5)}, {@code (word:0.25)} = ÷4, {@code \(word\)} literal, weights
 *       only with round brackets; "BREAK" keyword;</li>
 *   <li>[grammar] the same function's token rules: a closing bracket without an opening one is text, a
 *       colon not followed by "number)" is text, {@code \\} is a backslash and a lone backslash is dropped,
 *       spaces may surround the weight, "BREAK" must be a whole upper-case word; equal neighbours merge.</li>
 * </ul>
 * Expected weights that are products are written as the products A1111 computes (inner bracket first).
 */
class PromptParserTest {
    private static final double UP = 1.1, DOWN = 1 / 1.1;

    private static Fragment t(String text, double weight) {
        return Fragment.text(text, weight);
    }

    static Stream<Arguments> table() {
        return Stream.of(
                // [doctest]
                Arguments.of("normal text", List.of(t("normal text", 1.0))),
                Arguments.of("an (important) word", List.of(t("an ", 1.0), t("important", 1.1), t(" word", 1.0))),
                Arguments.of("(unbalanced", List.of(t("unbalanced", 1.1))),
                Arguments.of("\\(literal\\]", List.of(t("(literal]", 1.0))),
                Arguments.of("(unnecessary)(parens)", List.of(t("unnecessaryparens", 1.1))),
                Arguments.of("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", List.of(
                        t("a ", 1.0), t("house", 1.5730000000000004), t(" ", 1.1), t("on", 1.0), t(" a ", 1.1),
                        t("hill", 0.55), t(", sun, ", 1.1), t("sky", 1.4641000000000006), t(".", 1.1))),
                // [wiki]
                Arguments.of("a (word)", List.of(t("a ", 1.0), t("word", UP))),
                Arguments.of("a ((word))", List.of(t("a ", 1.0), t("word", UP * UP))),
                Arguments.of("a [word]", List.of(t("a ", 1.0), t("word", DOWN))),
                Arguments.of("a (word:1.5)", List.of(t("a ", 1.0), t("word", 1.5))),
                Arguments.of("a (word:0.25)", List.of(t("a ", 1.0), t("word", 0.25))),
                Arguments.of("a \\(word\\)", List.of(t("a (word)", 1.0))),
                Arguments.of("anime_\\(character\\)", List.of(t("anime_(character)", 1.0))),
                Arguments.of("a BREAK b", List.of(t("a", 1.0), Fragment.BREAK, t("b", 1.0))),
                // [grammar]
                Arguments.of("", List.of(t("", 1.0))),
                Arguments.of("[[a]]", List.of(t("a", DOWN * DOWN))),
                Arguments.of("([a])", List.of(t("a", DOWN * UP))),
                Arguments.of("((a) b)", List.of(t("a", UP * UP), t(" b", UP))),
                Arguments.of("((a:1.3)b)", List.of(t("a", 1.3 * UP), t("b", UP))),
                Arguments.of("(a:1.5) (b:0.5)", List.of(t("a", 1.5), t(" ", 1.0), t("b", 0.5))),
                Arguments.of("(a: 1.5 )", List.of(t("a", 1.5))),
                Arguments.of("(a:+2)", List.of(t("a", 2.0))),
                Arguments.of("(a:.5)", List.of(t("a", 0.5))),
                Arguments.of("a) b", List.of(t("a) b", 1.0))),
                Arguments.of("a] b", List.of(t("a] b", 1.0))),
                Arguments.of("a: b", List.of(t("a: b", 1.0))),
                Arguments.of("(a:b)", List.of(t("a:b", UP))),
                Arguments.of("a\\\\b", List.of(t("a\\b", 1.0))),
                Arguments.of("a\\b", List.of(t("ab", 1.0))),
                Arguments.of("[a", List.of(t("a", DOWN))),
                Arguments.of("a BREAK", List.of(t("a", 1.0), Fragment.BREAK, t("", 1.0))),
                Arguments.of("aBREAK b, a break b", List.of(t("aBREAK b, a break b", 1.0))),
                Arguments.of("x\nBREAK\ny", List.of(t("x", 1.0), Fragment.BREAK, t("y", 1.0))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void weightsAsA1111GivesThem(String prompt, List<Fragment> expected) {
        assertThat(PromptParser.parse(prompt)).containsExactlyElementsOf(expected);
    }

    @Test
    void aBreakInsideBracketsStillBreaks() {
        // A1111 would multiply its marker's weight (-1) too and then treat "BREAK" as a word; we keep it a break
        assertThat(PromptParser.parse("(a BREAK b)")).containsExactly(t("a", UP), Fragment.BREAK, t("b", UP));
    }

    @Test
    void aWeightThatIsNoNumberIsAnError() {
        assertThatThrownBy(() -> PromptParser.parse("a (b:1.2.3)")).isInstanceOf(JDiffusionException.class)
                .hasMessageContaining("'1.2.3'");
    }
}
