package io.relay.node.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** relayctl's users are checked by the bootstrap file's rules, with one-line problems. */
class SaslUserCheckTest {
    @Test
    void goodUsersPassAndRatesAreNormalised() {
        SaslUser u = SaslUserCheck.check("web.app+1@corp", List.of("@example.com", "noreply@example.org"),
                List.of("100/m", "10000/d"));
        assertEquals("web.app+1@corp", u.name());
        assertEquals(List.of("@example.com", "noreply@example.org"), u.senders());
        assertEquals(List.of("100/m", "10000/d"), u.rates());
        assertEquals(List.of(), SaslUserCheck.check("lambda", null, null).senders());
    }

    @Test
    void badFieldsAreOneLineNamingThem() {
        String[][] cases = {
                {"", "", "", "bad user name"},
                {"a:b", "", "", "bad user name"},
                {"-lead", "", "", "bad user name"},
                {"bob smith", "", "", "bad user name"},
                {"x".repeat(129), "", "", "bad user name"},
                {"bob", "not-an-address", "", "user bob: bad sender not-an-address"},
                {"bob", "a,b@x.test", "", "user bob: bad sender 'a,b@x.test'"},
                {"bob", "a@x.test:1", "", "user bob: bad sender 'a@x.test:1'"},
                {"bob", "a@\u001bx.test", "", "user bob: bad sender 'a@?x.test'"},
                {"bob", "", "5/x", "user bob: rate '5/x' is not N/unit"},
                {"bob", "", "0/m", "allows no messages"},
                {"bob", "", "1/m,2/m", "user bob: bad rate"},
        };
        for (String[] c : cases) {
            List<String> senders = c[1].isEmpty() ? List.of() : List.of(c[1]);
            List<String> rates = c[2].isEmpty() ? List.of() : List.of(c[2]);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SaslUserCheck.check(c[0], senders, rates), c[0] + " " + c[1] + " " + c[2]);
            assertTrue(e.getMessage().contains(c[3]), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
            assertTrue(!e.getMessage().contains("argon2"), e.getMessage());
        }
    }
}
