package io.relay.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TransportTableTest {
    private static final String TABLE = """
            # full address beats domain beats parent beats wildcard
            user-1@example.net   ses:email-smtp.us-east-1.amazonaws.com
            example.net          smtp:[mx.example.net]:2525
            .example.net         :[sub-gw.example.net]
            example.com          ses:
            .com                 smtp:
            bounce.example       error:5.1.1 no such user here
            sink.example         discard:test sink
            local.example        :
            *                    relay:[catchall.example]
            """;

    @ParameterizedTest(name = "[{index}] '{0}'")
    @CsvSource(delimiter = '|', value = {
            "user-1@example.net     | user-1@example.net | ses   | email-smtp.us-east-1.amazonaws.com",
            "USER-1@Example.NET     | user-1@example.net | ses   | email-smtp.us-east-1.amazonaws.com",
            "user-2@example.net     | example.net        | smtp  | [mx.example.net]:2525",
            "a@deep.sub.example.net | .example.net       | ''    | [sub-gw.example.net]",
            "a@example.com          | example.com        | ses   | ''",
            "a@sub.example.com      | .com               | smtp  | ''",
            "a@bounce.example       | bounce.example     | error | 5.1.1 no such user here",
            "a@sink.example         | sink.example       | discard | test sink",
            "a@local.example        | local.example      | ''    | ''",
            "a@elsewhere.org        | *                  | relay | [catchall.example]",
    })
    void looksUpAddressDomainParentsWildcard(String address, String key, String transport, String nexthop) {
        TransportTable.Match m = TransportTable.parse(TABLE, "transport").lookup(address).orElseThrow();
        assertEquals(key, m.matchedKey());
        assertEquals(transport, m.entry().transport());
        assertEquals(nexthop, m.entry().nexthop());
    }

    @Test
    void plainDomainKeyDoesNotMatchSubdomains() {
        TransportTable t = TransportTable.parse("example.org smtp:[gw.example.org]\n", "t");
        assertTrue(t.lookup("a@example.org").isPresent());
        assertTrue(t.lookup("a@sub.example.org").isEmpty());
    }

    @Test
    void inlineMapSameAsText() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("Example.com", "ses:email-smtp.us-east-1.amazonaws.com");
        m.put(".example.org", ":[gw.example.org]:587");
        TransportTable t = TransportTable.of(m);
        assertEquals("ses", t.lookup("x@example.com").orElseThrow().entry().transport());
        assertEquals("[gw.example.org]:587", t.lookup("x@a.example.org").orElseThrow().entry().nexthop());
        assertEquals(2, t.entries().size());
    }

    @Test
    void continuationLinesJoinThePreviousEntry() {
        TransportTable t = TransportTable.parse("example.com\n    smtp:[gw.example.com]\n", "t");
        assertEquals("[gw.example.com]", t.lookup("a@example.com").orElseThrow().entry().nexthop());
    }

    @ParameterizedTest(name = "[{index}] '{0}'")
    @CsvSource(delimiter = '|', value = {
            "'# c\nexample.com\n'                         | transport:2: entry 'example.com' has no",
            "'example.com smtp:[gw\n'                      | transport:1: entry 'example.com'",
            "'example.com smtp:[a.example],[b.example]\n'  | several next hops",
            "'a.example smtp:\nA.example relay:\n'         | transport:2: duplicate key",
            "'/^x/ smtp:\n'                                | regexp",
            "'a.example sm tp:x\n'                         | bad transport name",
    })
    void rejectsMalformedWithSourceAndLine(String text, String problem) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TransportTable.parse(text.replace("\\n", "\n"), "transport"));
        assertTrue(e.getMessage().contains(problem), e.getMessage());
    }
}
