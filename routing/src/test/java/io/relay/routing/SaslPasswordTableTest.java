package io.relay.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SaslPasswordTableTest {
    private static final String TABLE = """
            # SES submission
            [email-smtp.us-east-1.amazonaws.com]:587   AKIA587:secret:with:colons

            [relay.example]  port25user:pw25
            relay.example    bareuser:pwbare
            [smarthost.example]:2525
                contuser:contpw
            mx.example.net   mxuser:mxpw
            """;

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "[email-smtp.us-east-1.amazonaws.com]:587 | [email-smtp.us-east-1.amazonaws.com]:587 | AKIA587 | secret:with:colons",
            "[EMAIL-SMTP.us-east-1.amazonaws.com]:587 | [email-smtp.us-east-1.amazonaws.com]:587 | AKIA587 | secret:with:colons",
            // the host name alone is tried before the next hop as written (Postfix: remote host, then next hop)
            "[relay.example]                          | relay.example                            | bareuser| pwbare",
            "[smarthost.example]:2525                 | [smarthost.example]:2525                 | contuser| contpw",
            "mx.example.net                           | mx.example.net                           | mxuser  | mxpw",
    })
    void looksUpInPostfixOrder(String hop, String key, String user, String password) {
        Credentials c = SaslPasswordTable.parse(TABLE, "sasl_passwd").lookup(NextHop.parse(hop)).orElseThrow();
        assertEquals(key, c.key());
        assertEquals(user, c.username());
        assertEquals(password, c.password());
    }

    @Test
    void port25NextHopMatchesKeyWrittenWithColon25() {
        SaslPasswordTable t = SaslPasswordTable.parse(
                "[email-smtp.ap-northeast-1.amazonaws.com]:25    U3:exampleSes/Secret+3\n", "f");
        Credentials c = t.lookup(NextHop.parse("[email-smtp.ap-northeast-1.amazonaws.com]:25")).orElseThrow();
        assertEquals("U3", c.username());
        assertEquals("exampleSes/Secret+3", c.password());
    }

    @Test
    void noEntryNoCredentials() {
        SaslPasswordTable t = SaslPasswordTable.parse(TABLE, "f");
        assertTrue(t.lookup(NextHop.parse("[other.example]:587")).isEmpty());
        // a port-specific key does not match another port
        assertTrue(t.lookup(NextHop.parse("[email-smtp.us-east-1.amazonaws.com]:465")).isEmpty());
    }

    @Test
    void keysListNoPasswords() {
        SaslPasswordTable t = SaslPasswordTable.parse(TABLE, "f");
        assertEquals(List.of("[email-smtp.us-east-1.amazonaws.com]:587", "[relay.example]", "relay.example",
                "[smarthost.example]:2525", "mx.example.net"), t.keys());
        assertFalse(t.toString().contains("secret"));
        assertFalse(t.lookup(NextHop.parse("mx.example.net")).orElseThrow().toString().contains("mxpw"));
    }

    @Test
    void errorsNameSourceAndLineButNotThePassword() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SaslPasswordTable.parse("# c\n[a.example]:587 u:p\n[b.example]:587 hunter2secret\n", "/etc/postfix/sasl_passwd"));
        assertTrue(e.getMessage().startsWith("/etc/postfix/sasl_passwd:3:"), e.getMessage());
        assertFalse(e.getMessage().contains("hunter2secret"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> SaslPasswordTable.parse("[c.example]\n", "s"));
        assertTrue(e.getMessage().startsWith("s:1:"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class,
                () -> SaslPasswordTable.parse("a u:p1\nA u:p2\n", "s"));
        assertTrue(e.getMessage().contains("s:2: duplicate"), e.getMessage());
        assertFalse(e.getMessage().contains("p2"), e.getMessage());
    }
}
