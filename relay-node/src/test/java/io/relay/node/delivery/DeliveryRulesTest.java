package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.log.MailLog;
import io.relay.queue.QueuedMessage;
import io.relay.queue.RecipientOutcome;
import io.relay.routing.NextHop;
import io.relay.routing.TlsLevel;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pure rules of the delivery side: wire encoding, reply parsing, log number format, refusals, expiry. */
class DeliveryRulesTest {
    @TempDir
    Path dir;

    @Test
    void dotStuffingDoublesLeadingDotsAndTerminates() {
        byte[] in = ".a\r\nb.\r\n..c\r\n".getBytes(StandardCharsets.US_ASCII);
        assertEquals("..a\r\nb.\r\n...c\r\n.\r\n", new String(SmtpTransaction.dotStuffed(in), StandardCharsets.US_ASCII));
        assertEquals("x\r\n.\r\n", new String(SmtpTransaction.dotStuffed("x".getBytes(StandardCharsets.US_ASCII)),
                StandardCharsets.US_ASCII));
        assertEquals(".\r\n", new String(SmtpTransaction.dotStuffed(new byte[0]), StandardCharsets.US_ASCII));
        assertEquals("a\r\n..\r\n..\r\n.\r\n", new String(SmtpTransaction.dotStuffed(
                "a\r\n.\r\n.".getBytes(StandardCharsets.US_ASCII)), StandardCharsets.US_ASCII));
    }

    /** A large message on disk is stuffed as it is read: the same bytes as the in-heap form, whatever the reads' sizes. */
    @Test
    void streamedDotStuffingEqualsTheInHeapForm() throws Exception {
        List<String> cases = List.of("", "x", ".", "..", ".a\r\nb.\r\n..c\r\n", "a\r\n.\r\n.", "a\r\n",
                "\r\n.\r\n", ".".repeat(70_000) + "\r\n." + "z".repeat(65_535) + "\r\n.\r\n");
        for (String c : cases) {
            byte[] in = c.getBytes(StandardCharsets.US_ASCII);
            for (int read : new int[] {1, 2, 3, 7, 65_536}) {
                java.io.InputStream src = new java.io.ByteArrayInputStream(in) {
                    @Override
                    public synchronized int read(byte[] b, int off, int len) {
                        return super.read(b, off, Math.min(len, read)); // short reads, as a file or socket gives
                    }
                };
                java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                SmtpTransaction.writeDotStuffed(src, out);
                assertEquals(new String(SmtpTransaction.dotStuffed(in), StandardCharsets.US_ASCII),
                        out.toString(StandardCharsets.US_ASCII), "case of " + in.length + " bytes, reads of " + read);
            }
        }
    }

    @Test
    void enhancedStatusComesFromTheReplyOrItsClass() {
        assertEquals("5.1.1", new SmtpReply(550, List.of("5.1.1 no such user")).dsn());
        assertEquals("4.0.0", new SmtpReply(451, List.of("try later")).dsn());
        assertEquals("5.0.0", new SmtpReply(554, List.of("4.1.1 class mismatch")).dsn());
        assertEquals("250 2.0.0 Ok: queued as X", new SmtpReply(250, List.of("2.0.0 Ok: queued as X")).text());
    }

    @Test
    void delaysArePrintedTheWayPostfixDoes() {
        assertEquals("0", OutcomeLog.seconds(0.001));
        assertEquals("0.01", OutcomeLog.seconds(0.012));
        assertEquals("0.5", OutcomeLog.seconds(0.5));
        assertEquals("1.2", OutcomeLog.seconds(1.23));
        assertEquals("37", OutcomeLog.seconds(37.4));
        assertEquals("0.05", OutcomeLog.seconds(0.05));
        assertEquals("0.1", OutcomeLog.seconds(0.104));
        assertEquals("1", OutcomeLog.seconds(0.999));
        assertEquals("2", OutcomeLog.seconds(2.04));
        assertEquals("10", OutcomeLog.seconds(9.96));
        assertEquals("11", OutcomeLog.seconds(10.5));
    }

    @Test
    void lineBreaksInEnvelopeAddressesAreRefusedBeforeConnecting() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        try (SmtpClient client = new SmtpClient("relay.test", Duration.ofSeconds(2), Duration.ofSeconds(2),
                Duration.ofSeconds(1), new AddressRecordResolver())) {
            SmtpDelivery d = client.deliver(new NextHop("127.0.0.1", closed, false),
                    new SmtpClient.Policy(TlsLevel.NONE, null, null, false), "s@example.com",
                    List.of("a@example.net\r\nRCPT TO:<evil@example.org>"), "x\r\n".getBytes(StandardCharsets.US_ASCII),
                    false, false);
            assertEquals(RecipientResult.Status.BOUNCED, d.results().get(0).status());
            assertEquals("5.1.3", d.results().get(0).dsn());
            assertEquals("none", d.relay());
        }
    }

    @Test
    void expiryLogsAndReturnsTheMessage() throws Exception {
        Path logFile = dir.resolve("mail.log");
        MailLog log = MailLog.open(logFile, "relay", "relay.test");
        RecordingQueue queue = new RecordingQueue();
        try (SmtpClient client = new SmtpClient("relay.test", Duration.ofSeconds(2), Duration.ofSeconds(2),
                Duration.ofSeconds(1), new AddressRecordResolver())) {
            Dispatcher d = Fixtures.dispatcher((r, s) -> {
                throw new AssertionError("expiry routes nothing");
            }, client, queue, log);
            QueuedMessage m = Fixtures.message("s@example.com", List.of("slow@example.net"), "x\r\n");
            d.expired(m, List.of(new RecipientOutcome.Deferred("slow@example.net", "connect to x: Connection refused")));
        }
        String logged = Files.readString(logFile);
        assertTrue(logged.contains("status=expired, returned to sender"), logged);
        assertTrue(logged.contains("sender non-delivery notification: "), logged);
        assertEquals(1, queue.accepted.size());
        String dsn = new String(queue.accepted.get(0).content(), StandardCharsets.UTF_8);
        assertTrue(dsn.contains("Final-Recipient: rfc822; slow@example.net") && dsn.contains("Status: 4.4.7"), dsn);
    }
}
