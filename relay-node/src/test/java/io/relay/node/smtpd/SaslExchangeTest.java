package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.smtpd.SaslExchange.Step;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** The AUTH exchange as a pure state machine: PLAIN and LOGIN, initial responses, cancel, bad base64. */
class SaslExchangeTest {
    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static Step.Credentials credentials(Step s) {
        return assertInstanceOf(Step.Credentials.class, s);
    }

    @Test
    void plainWithInitialResponse() {
        Step.Credentials c = credentials(SaslExchange.of("PLAIN").begin(b64("\0webapp\0s3cret")));
        assertEquals("webapp", c.name());
        assertEquals("s3cret", c.password());
        assertEquals("PLAIN", c.mechanism());
    }

    @Test
    void plainWithoutInitialResponseAsksWithAnEmptyChallenge() {
        SaslExchange x = SaslExchange.of("PLAIN");
        assertEquals(new Step.Challenge("334 "), x.begin(null));
        assertTrue(x.waiting());
        Step.Credentials c = credentials(x.next(b64("webapp\0webapp\0pw")));
        assertEquals("webapp", c.name());
        assertEquals("pw", c.password());
        assertFalse(x.waiting());
    }

    @Test
    void plainActingForAnotherUserOrMalformedIsAFailedLogin() {
        for (String blob : new String[] {"admin\0webapp\0pw", "webapp\0pw", "a\0b\0c\0d", ""}) {
            Step.Credentials c = credentials(SaslExchange.of("PLAIN").begin(blob.isEmpty() ? "=" : b64(blob)));
            assertEquals("", c.name(), blob);
            assertEquals("", c.password(), blob);
        }
    }

    @Test
    void loginAsksForNameThenPassword() {
        SaslExchange x = SaslExchange.of("LOGIN");
        assertEquals(new Step.Challenge("334 VXNlcm5hbWU6"), x.begin(null));
        assertEquals(new Step.Challenge("334 UGFzc3dvcmQ6"), x.next(b64("webapp")));
        Step.Credentials c = credentials(x.next(b64("s3cret")));
        assertEquals("webapp", c.name());
        assertEquals("s3cret", c.password());
        assertEquals("LOGIN", c.mechanism());
    }

    @Test
    void loginWithTheNameAsInitialResponse() {
        SaslExchange x = SaslExchange.of("LOGIN");
        assertEquals(new Step.Challenge("334 UGFzc3dvcmQ6"), x.begin(b64("webapp")));
        assertEquals("s3cret", credentials(x.next(b64("s3cret"))).password());
    }

    @Test
    void starCancelsAtEveryPrompt() {
        SaslExchange plain = SaslExchange.of("PLAIN");
        plain.begin(null);
        assertEquals(new Step.Ended("501 5.7.0 Authentication aborted", false), plain.next("*"));
        SaslExchange login = SaslExchange.of("LOGIN");
        login.begin(null);
        login.next(b64("webapp"));
        assertEquals(new Step.Ended("501 5.7.0 Authentication aborted", false), login.next("*"));
        assertFalse(login.waiting());
    }

    @Test
    void badBase64() {
        assertEquals(new Step.Ended("501 5.5.2 Cannot decode AUTH parameter", true),
                SaslExchange.of("PLAIN").begin("not*base64"));
        SaslExchange x = SaslExchange.of("LOGIN");
        x.begin(null);
        assertEquals(new Step.Ended("501 5.5.2 Cannot decode response", true), x.next("abc"));
        SaslExchange y = SaslExchange.of("LOGIN");
        y.begin(null);
        y.next(b64("u"));
        assertEquals(new Step.Ended("501 5.5.2 Cannot decode response", true),
                y.next(Base64.getEncoder().encodeToString(new byte[] {(byte) 0xff, (byte) 0xfe})));
    }

    @Test
    void neitherTheNameNorThePasswordIsInToString() {
        Step s = SaslExchange.of("PLAIN").begin(b64("\0webapp\0s3cret"));
        assertFalse(s.toString().contains("s3cret"), s.toString());
        assertFalse(s.toString().contains("webapp"), s.toString());
    }

    @Test
    void onlyPlainAndLoginAreOffered() {
        assertTrue(SaslExchange.offered("PLAIN"));
        assertTrue(SaslExchange.offered("LOGIN"));
        assertFalse(SaslExchange.offered("CRAM-MD5"));
        assertFalse(SaslExchange.offered("plain")); // the parser upper-cases
    }
}
