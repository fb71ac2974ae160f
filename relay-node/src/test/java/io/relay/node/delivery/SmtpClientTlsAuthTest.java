package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.log.MailLog;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.UpstreamCertificate;
import io.relay.queue.RecipientOutcome;
import io.relay.routing.Credentials;
import io.relay.routing.NextHop;
import io.relay.routing.TlsLevel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** STARTTLS at each Postfix TLS level and AUTH PLAIN/LOGIN, against a real aiosmtpd upstream. */
class SmtpClientTlsAuthTest {
    private static final String PASSWORD = "s3cret-Pa55word";
    private static final Credentials ALICE = new Credentials("[127.0.0.1]", "alice", PASSWORD);

    @TempDir
    static Path dir;
    static UpstreamCertificate localhostCert;
    static UpstreamCertificate otherCa;
    static AiosmtpdUpstream tlsAuth;

    private SmtpClient client;

    @BeforeAll
    static void upstreams() throws Exception {
        localhostCert = UpstreamCertificate.create(dir, "localhost", "DNS:localhost");
        otherCa = UpstreamCertificate.create(dir, "other", "DNS:other.test");
        tlsAuth = AiosmtpdUpstream.builder(dir).starttls(localhostCert.certPem(), localhostCert.keyPem())
                .auth("alice", PASSWORD).start();
    }

    @AfterAll
    static void stop() {
        if (tlsAuth != null) {
            tlsAuth.close();
        }
    }

    @BeforeEach
    void client() {
        client = new SmtpClient("relay.test", Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(2),
                new AddressRecordResolver());
    }

    @AfterEach
    void closeClient() {
        client.close();
    }

    private SmtpDelivery send(NextHop hop, TlsLevel level, Path ca, Credentials cred, String rcpt) {
        return client.deliver(hop, new SmtpClient.Policy(level, ca, cred, false), "sender@example.com", List.of(rcpt),
                "Subject: t\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII), false, false);
    }

    private static NextHop ip(int port) {
        return new NextHop("127.0.0.1", port, false);
    }

    @Test
    void encryptWithAuthPlainDelivers() throws Exception {
        SmtpDelivery d = send(ip(tlsAuth.port()), TlsLevel.ENCRYPT, null, ALICE, "plain@example.net");
        assertEquals(RecipientResult.Status.SENT, d.results().get(0).status(), d.toString());
        AiosmtpdUpstream.Received got = last(tlsAuth, "plain@example.net");
        assertTrue(got.tls());
        assertEquals("alice", got.authUser());
        assertTrue(d.relay().startsWith("127.0.0.1[127.0.0.1]:"), d.relay());
    }

    @Test
    void authLoginWhenPlainIsNotOffered() throws Exception {
        try (AiosmtpdUpstream loginOnly = AiosmtpdUpstream.builder(dir)
                .starttls(localhostCert.certPem(), localhostCert.keyPem()).auth("alice", PASSWORD)
                .withoutAuthMechanism("PLAIN").start()) {
            SmtpDelivery d = send(ip(loginOnly.port()), TlsLevel.ENCRYPT, null, ALICE, "login@example.net");
            assertEquals(RecipientResult.Status.SENT, d.results().get(0).status(), d.toString());
            assertEquals("alice", last(loginOnly, "login@example.net").authUser());
        }
    }

    @Test
    void wrongPasswordDefersAndNoSecretIsLogged() throws Exception {
        Path logFile = dir.resolve("wrong-password.log");
        MailLog log = MailLog.open(logFile, "relay", "relay.test");
        String wrong = "wr0ng-Secret-77";
        Credentials bad = new Credentials("[127.0.0.1]", "alice", wrong);
        RecordingQueue queue = new RecordingQueue();
        Dispatcher dispatcher = Fixtures.dispatcher((r, s) -> Fixtures.smtp(tlsAuth.port(), TlsLevel.ENCRYPT, null,
                bad, false), client, queue, log);
        var m = Fixtures.message("sender@example.com", List.of("denied@example.net"), "hi\r\n");
        List<RecipientOutcome> out = dispatcher.deliver(Fixtures.attempt(m));
        RecipientOutcome.Deferred deferred = (RecipientOutcome.Deferred) out.get(0);
        assertTrue(deferred.reason().contains("SASL authentication failed"), deferred.reason());
        String logged = Files.readString(logFile);
        assertTrue(logged.contains("dsn=4.7.0, status=deferred (SASL authentication failed"), logged);
        String plainToken = Base64.getEncoder().encodeToString(("\0alice\0" + wrong).getBytes(StandardCharsets.UTF_8));
        for (String secret : List.of(wrong, plainToken, Base64.getEncoder().encodeToString(wrong.getBytes()))) {
            assertFalse(logged.contains(secret), "secret in the mail log");
            assertFalse(deferred.reason().contains(secret), "secret in the reason");
        }
        assertTrue(queue.accepted.isEmpty(), "a deferral sends no DSN");
    }

    @Test
    void credentialsAreNeverSentInPlaintext() throws Exception {
        try (AiosmtpdUpstream plainAuth = AiosmtpdUpstream.builder(dir).auth("alice", PASSWORD).start()) {
            SmtpDelivery d = send(ip(plainAuth.port()), TlsLevel.NONE, null, ALICE, "noplain@example.net");
            RecipientResult r = d.results().get(0);
            assertEquals(RecipientResult.Status.DEFERRED, r.status());
            assertTrue(r.detail().contains("plaintext"), r.detail());
            assertFalse(r.detail().contains(PASSWORD));
            assertTrue(plainAuth.messages().isEmpty());
        }
    }

    @Test
    void verifyAcceptsAChainFromTheCaFile() throws Exception {
        SmtpDelivery d = send(ip(tlsAuth.port()), TlsLevel.VERIFY, localhostCert.certPem(), ALICE, "verify@example.net");
        assertEquals(RecipientResult.Status.SENT, d.results().get(0).status(), d.toString());
        assertTrue(last(tlsAuth, "verify@example.net").tls());
    }

    @Test
    void verifyDefersWhenTheChainIsNotTrusted() throws Exception {
        SmtpDelivery d = send(ip(tlsAuth.port()), TlsLevel.VERIFY, otherCa.certPem(), ALICE, "untrusted@example.net");
        RecipientResult r = d.results().get(0);
        assertEquals(RecipientResult.Status.DEFERRED, r.status());
        assertEquals("4.7.5", r.dsn(), r.detail());
        assertTrue(tlsAuth.messages().stream().noneMatch(m -> m.recipients().contains("untrusted@example.net")));
    }

    @Test
    void secureAcceptsTheMatchingHostName() throws Exception {
        SmtpDelivery d = send(new NextHop("localhost", tlsAuth.port(), false), TlsLevel.SECURE,
                localhostCert.certPem(), ALICE, "secure@example.net");
        assertEquals(RecipientResult.Status.SENT, d.results().get(0).status(), d.toString());
    }

    @Test
    void secureDefersOnAHostNameMismatch() throws Exception {
        // Trusted chain, but the certificate names "localhost" and the next hop is 127.0.0.1.
        SmtpDelivery d = send(ip(tlsAuth.port()), TlsLevel.SECURE, localhostCert.certPem(), ALICE,
                "mismatch@example.net");
        RecipientResult r = d.results().get(0);
        assertEquals(RecipientResult.Status.DEFERRED, r.status(), r.detail());
        assertEquals("4.7.5", r.dsn(), r.detail());
        assertTrue(tlsAuth.messages().stream().noneMatch(m -> m.recipients().contains("mismatch@example.net")));
    }

    @Test
    void mayFallsBackToPlaintextAndEncryptRefusesIt() throws Exception {
        try (AiosmtpdUpstream plain = AiosmtpdUpstream.builder(dir).start()) {
            SmtpDelivery may = send(ip(plain.port()), TlsLevel.MAY, null, null, "may@example.net");
            assertEquals(RecipientResult.Status.SENT, may.results().get(0).status(), may.toString());
            assertFalse(last(plain, "may@example.net").tls());

            SmtpDelivery enc = send(ip(plain.port()), TlsLevel.ENCRYPT, null, null, "enc@example.net");
            assertEquals("4.7.4", enc.results().get(0).dsn(), enc.toString());
            assertEquals(RecipientResult.Status.DEFERRED, enc.results().get(0).status());
        }
    }

    @Test
    void mayRetriesInPlaintextAfterAFailedHandshake() throws Exception {
        try (AiosmtpdUpstream oldTls = AiosmtpdUpstream.builder(dir)
                .starttls(localhostCert.certPem(), localhostCert.keyPem()).starttlsOptional().tlsAtMost11().start()) {
            SmtpDelivery may = send(ip(oldTls.port()), TlsLevel.MAY, null, null, "retry@example.net");
            assertEquals(RecipientResult.Status.SENT, may.results().get(0).status(), may.toString());
            assertFalse(last(oldTls, "retry@example.net").tls());
            assertEquals(2, oldTls.connections(), "the failed TLS session, then the plaintext one");

            SmtpDelivery enc = send(ip(oldTls.port()), TlsLevel.ENCRYPT, null, null, "noretry@example.net");
            assertEquals(RecipientResult.Status.DEFERRED, enc.results().get(0).status());
            assertEquals("4.7.5", enc.results().get(0).dsn(), enc.toString());
        }
    }

    @Test
    void mayUsesStarttlsWhenOffered() throws Exception {
        SmtpDelivery d = send(ip(tlsAuth.port()), TlsLevel.MAY, null, ALICE, "maytls@example.net");
        assertEquals(RecipientResult.Status.SENT, d.results().get(0).status(), d.toString());
        assertTrue(last(tlsAuth, "maytls@example.net").tls());
    }

    private static AiosmtpdUpstream.Received last(AiosmtpdUpstream up, String rcpt) throws Exception {
        return up.messages().stream().filter(m -> m.recipients().contains(rcpt)).reduce((a, b) -> b).orElseThrow();
    }
}
