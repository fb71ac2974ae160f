package io.relay.node.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class PrintableTest {
    @ParameterizedTest
    @ValueSource(strings = {"", "3F2A9C01B7: client=unknown[127.0.0.1]", "from=<jörg@bücher.example>",
            "message-id=<a.b@c>", "emoji \uD83D\uDE00 stays", "日本語@例え.jp"})
    void printableTextIsTheSameInstance(String text) {
        assertSame(text, Printable.mask(text));
        assertTrue(Printable.isPrintable(text));
    }

    static Stream<Arguments> masked() {
        return Stream.of(
                Arguments.of("evil\rX-Injected:yes\u0000\u001b[31m", "evil?X-Injected:yes??[31m"),
                Arguments.of("a\nb\tc\u007f", "a?b?c?"),
                Arguments.of("nel\u0085 c1\u009b", "nel? c1?"),
                Arguments.of("ls\u2028ps\u2029", "ls?ps?"),
                Arguments.of("\u202Ereversed\u202C \u202A\u202B\u202D", "?reversed? ???"),
                Arguments.of("\u2066iso\u2069 \u2067\u2068", "?iso? ??"),
                Arguments.of("lrm\u200E rlm\u200F alm\u061C zw\u200B bom\uFEFF", "lrm? rlm? alm? zw? bom?"),
                Arguments.of("lone \uD800 surrogate \uDC00", "lone ? surrogate ?"),
                Arguments.of("tag \uDB40\uDC01 is one", "tag ? is one"),
                Arguments.of("bell\u0007", "bell?"));
    }

    @ParameterizedTest
    @MethodSource
    void masked(String in, String out) {
        assertEquals(out, Printable.mask(in));
        assertFalse(Printable.isPrintable(in));
    }
}
