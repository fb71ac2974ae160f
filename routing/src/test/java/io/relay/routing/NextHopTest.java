package io.relay.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class NextHopTest {
    @ParameterizedTest(name = "[{index}] '{0}'")
    @CsvSource(delimiter = '|', value = {
            "[email-smtp.us-east-1.amazonaws.com]:587 | email-smtp.us-east-1.amazonaws.com | 587 | false | [email-smtp.us-east-1.amazonaws.com]:587",
            "[mx.internal.example.co.jp]:25          | mx.internal.example.co.jp          | 25  | false | [mx.internal.example.co.jp]",
            "[smtp.example.com]                      | smtp.example.com                   | 25  | false | [smtp.example.com]",
            "smtp.example.com:2525                   | smtp.example.com                   | 2525| true  | smtp.example.com:2525",
            "Example.COM                             | example.com                        | 25  | true  | example.com",
            "[ipv6:2001:db8::1]:587                  | 2001:db8::1                        | 587 | false | [ipv6:2001:db8::1]:587",
            "[2001:db8::1]                           | 2001:db8::1                        | 25  | false | [ipv6:2001:db8::1]",
            "[192.0.2.7]:465                         | 192.0.2.7                          | 465 | false | [192.0.2.7]:465",
            "[relay.example]:submission              | relay.example                      | 587 | false | [relay.example]:587",
    })
    void parsesPostfixForms(String input, String host, int port, boolean mx, String text) {
        NextHop hop = NextHop.parse(input);
        assertEquals(host, hop.host());
        assertEquals(port, hop.port());
        assertEquals(mx, hop.mxLookup());
        assertEquals(text, hop.text());
        assertEquals(hop, NextHop.parse(hop.text()), "text() parses back to the same next hop");
    }

    @ParameterizedTest(name = "[{index}] '{0}'")
    @CsvSource(delimiter = '|', value = {
            "[relay.example                | without a closing",
            "relay.example]                | without an opening",
            "[relay.example]x              | unexpected",
            "[relay.example]:              | not a number",
            "relay.example:abc             | not a number",
            "relay.example:0               | outside 1-65535",
            "[relay.example]:70000         | outside 1-65535",
            "2001:db8::1                   | must be written in brackets",
            "[]:25                         | empty host",
            "'   '                         | empty",
            "relay one.example             | invalid character",
    })
    void rejectsMalformedNamingInputAndProblem(String input, String problem) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NextHop.parse(input));
        assertTrue(e.getMessage().contains("'" + input + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
    }

    @org.junit.jupiter.api.Test
    void defaultPortIsTheCallersChoice() {
        assertEquals(587, NextHop.parse("[relay.example]", 587).port());
        assertEquals(2525, NextHop.parse("[relay.example]:2525", 587).port());
    }
}
