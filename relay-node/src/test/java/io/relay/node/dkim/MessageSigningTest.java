package io.relay.node.dkim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.queue.MessageBody;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The From: domain and the key choice (pure logic; the signatures themselves are DkimSignerTest's and the e2e's). */
class MessageSigningTest {
    private static final DkimKey EXAMPLE = DkimKey.generate("example.com", "e1", DkimAlgorithm.ED25519_SHA256);
    private static final DkimKey FALLBACK = DkimKey.generate("relay.test", "f1", DkimAlgorithm.ED25519_SHA256);

    private static Optional<String> from(String headers) {
        return FromDomain.of(HeaderBlock.parse(headers.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void theFromDomainIsTheLastAddressOfTheLastFromFieldLowerCased() {
        assertEquals(Optional.of("example.com"), from("From: <app@Example.COM>\r\nTo: x@y.test\r\n"));
        assertEquals(Optional.of("example.com"), from("From: app@example.com\r\n"));
        assertEquals(Optional.of("example.com"), from("From: \"Shop, <sales@evil.test>\" <app@example.com>\r\n"));
        assertEquals(Optional.of("example.com"), from("From: App (at evil.test) <app@example.com> (x@y.test)\r\n"));
        assertEquals(Optional.of("two.test"), from("From: a@one.test,\r\n b@TWO.test.\r\n"));
        assertEquals(Optional.of("second.test"), from("From: a@first.test\r\nSubject: s\r\nfrom: b@second.test\r\n"));
        assertEquals(Optional.of("example.com"), from("From: \"a@b\" <app@example.com>\r\n"));
        assertEquals(Optional.empty(), from("Subject: no from\r\n"));
        assertEquals(Optional.empty(), from("From: undisclosed-recipients:;\r\n"));
        assertEquals(Optional.empty(), from("From: <app@[127.0.0.1]>\r\n"));
        assertEquals(Optional.empty(), from("From: <>\r\n"));
    }

    private static MessageSigning signing(Map<String, List<DkimKey>> keys, String fallback, Set<String> required) {
        return new MessageSigning(d -> keys.getOrDefault(d, List.of()), () -> !keys.isEmpty(),
                d -> Optional.empty(), fallback, required, Clock.systemUTC());
    }

    @Test
    void theOwnKeyFirstThenTheFallbackDomainsElseNone() {
        MessageSigning s = signing(Map.of("example.com", List.of(EXAMPLE), "relay.test", List.of(FALLBACK)),
                "Relay.Test.", Set.of());
        assertEquals(List.of(EXAMPLE), ((MessageSigning.Choice.Sign) s.choose("example.com")).keys());
        assertEquals(List.of(FALLBACK), ((MessageSigning.Choice.Sign) s.choose("other.test")).keys());
        assertEquals(List.of(FALLBACK), ((MessageSigning.Choice.Sign) s.choose(null)).keys());
        MessageSigning noFallback = signing(Map.of("example.com", List.of(EXAMPLE)), null, Set.of());
        assertInstanceOf(MessageSigning.Choice.None.class, noFallback.choose("other.test"));
        MessageSigning fallbackWithoutKey = signing(Map.of("example.com", List.of(EXAMPLE)), "relay.test", Set.of());
        assertInstanceOf(MessageSigning.Choice.None.class, fallbackWithoutKey.choose("other.test"));
    }

    @Test
    void aRequiredDomainWithoutItsOwnKeyIsRefusedEvenWithAFallback() {
        MessageSigning s = signing(Map.of("relay.test", List.of(FALLBACK)), "relay.test", Set.of("Bank.Test"));
        MessageSigning.Choice c = s.choose("bank.test");
        assertInstanceOf(MessageSigning.Choice.Refuse.class, c);
        assertTrue(((MessageSigning.Choice.Refuse) c).reason().contains("bank.test"), c.toString());
    }

    @Test
    void withoutAnyKeyNothingIsRead() {
        MessageBody unreadable = new MessageBody.OnDisk(new byte[0], null, 10);
        MessageSigning s = signing(Map.of(), "relay.test", Set.of());
        assertEquals(new MessageSigning.Outcome.Unsigned(MessageSigning.NO_KEY, null), s.sign(unreadable));
    }

    @Test
    void aSpooledBodyIsSignedAsTheSameBytesInTheHeap(@TempDir Path dir) throws Exception {
        byte[] prefix = "Received: from a by b; Mon, 7 Dec 2026 21:00:00 +0000\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] rest = ("From: <app@example.com>\r\nSubject: big\r\n\r\n" + "line of a big body\r\n".repeat(5000))
                .getBytes(StandardCharsets.US_ASCII);
        Path file = Files.write(dir.resolve("body"), rest);
        MessageSigning s = new MessageSigning(d -> d.equals("example.com") ? List.of(EXAMPLE) : List.of(), () -> true,
                d -> Optional.empty(), null, Set.of(), Clock.fixed(Instant.parse("2026-12-07T21:00:00Z"), ZoneOffset.UTC));
        MessageSigning.Outcome.Signed onDisk = (MessageSigning.Outcome.Signed) s.sign(
                new MessageBody.OnDisk(prefix, file, rest.length));
        byte[] whole = new byte[prefix.length + rest.length];
        System.arraycopy(prefix, 0, whole, 0, prefix.length);
        System.arraycopy(rest, 0, whole, prefix.length, rest.length);
        MessageSigning.Outcome.Signed inHeap = (MessageSigning.Outcome.Signed) s.sign(new MessageBody.InMemory(whole));
        MessageBody.OnDisk d = (MessageBody.OnDisk) onDisk.content();
        assertEquals(file, d.file(), "the file is sent as it is, the signatures go before the prefix");
        try (InputStream in = d.open()) {
            assertArrayEquals(((MessageBody.InMemory) inHeap.content()).bytes(), in.readAllBytes());
        }
    }

    @Test
    void aSignedMessageStartsWithItsSignaturesAndKeepsTheRest() {
        byte[] msg = "From: <app@example.com>\r\nSubject: hi\r\n\r\n.body\r\n".getBytes(StandardCharsets.US_ASCII);
        MessageSigning s = signing(Map.of("example.com", List.of(EXAMPLE)), null, Set.of());
        MessageSigning.Outcome.Signed out = (MessageSigning.Outcome.Signed) s.sign(new MessageBody.InMemory(msg));
        String text = new String(((MessageBody.InMemory) out.content()).bytes(), StandardCharsets.US_ASCII);
        assertTrue(text.startsWith("DKIM-Signature: v=1; a=ed25519-sha256;"), text);
        assertTrue(text.endsWith(new String(msg, StandardCharsets.US_ASCII)), text);
        assertEquals("example.com", out.domain());
    }
}
