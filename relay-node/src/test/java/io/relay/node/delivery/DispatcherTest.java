package io.relay.node.delivery;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.log.MailLog;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.Tools;
import io.relay.node.testing.UpstreamSink;
import io.relay.queue.QueuedMessage;
import io.relay.queue.RecipientOutcome;
import io.relay.routing.Agent;
import io.relay.routing.NextHop;
import io.relay.routing.Route;
import io.relay.routing.TlsLevel;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Dispatcher end to end: real upstreams, the mail log it writes, the DSNs it queues. */
class DispatcherTest {
    @TempDir
    Path dir;
    private SmtpClient client;
    private RecordingQueue queue;
    private MailLog log;
    private Path logFile;

    @BeforeEach
    void setUp() {
        client = new SmtpClient("relay.test", Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(3),
                new AddressRecordResolver());
        queue = new RecordingQueue();
        logFile = dir.resolve("mail.log");
        log = MailLog.open(logFile, "relay", "relay.test");
    }

    @AfterEach
    void tearDown() {
        client.close();
    }

    private Dispatcher dispatcher(BiFunction<String, String, Route> router) {
        return Fixtures.dispatcher(router, client, queue, log);
    }

    private String mailLog() throws Exception {
        return Files.readString(logFile);
    }

    @Test
    void pipeliningSendsTheEnvelopeInOneWrite() throws Exception {
        try (UpstreamSink sink = UpstreamSink.start(Files.createDirectories(dir.resolve("a")));
             UpstreamSink noPipelining = UpstreamSink.start(Files.createDirectories(dir.resolve("b")), "-p")) {
            SmtpClient.Policy policy = new SmtpClient.Policy(TlsLevel.NONE, null, null, false);
            byte[] body = "Subject: p\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII);
            List<String> rcpts = List.of("a@example.net", "b@example.net", "c@example.net");
            SmtpDelivery piped = client.deliver(new NextHop("127.0.0.1", sink.port(), false), policy, "s@example.com",
                    rcpts, body, false, false);
            SmtpDelivery stepwise = client.deliver(new NextHop("127.0.0.1", noPipelining.port(), false), policy,
                    "s@example.com", rcpts, body, false, false);
            assertTrue(piped.results().stream().allMatch(r -> r.status() == RecipientResult.Status.SENT), piped.toString());
            assertTrue(stepwise.results().stream().allMatch(r -> r.status() == RecipientResult.Status.SENT));
            assertEquals(1, piped.roundTrips(), "MAIL, 3 RCPT and DATA in one write when PIPELINING is offered");
            assertEquals(5, stepwise.roundTrips(), "one command per write without PIPELINING");
            assertEquals(1, sink.awaitMessages(1, Duration.ofSeconds(5)));
            assertEquals(1, noPipelining.awaitMessages(1, Duration.ofSeconds(5)));
        }
    }

    @Test
    void consecutiveMessagesReuseOneConnection() throws Exception {
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).start()) {
            Dispatcher reuse = dispatcher((r, s) -> Fixtures.smtp(up.port(), TlsLevel.MAY, null, null, true));
            for (int i = 0; i < 10; i++) {
                QueuedMessage m = Fixtures.message("s@example.com", List.of("r" + i + "@example.net"), "n " + i + "\r\n");
                assertInstanceOf(RecipientOutcome.Delivered.class, reuse.deliver(Fixtures.attempt(m)).get(0));
            }
            assertEquals(10, up.messages().size());
            assertEquals(1, up.connections(), "10 messages over one cached connection");

            Dispatcher fresh = dispatcher((r, s) -> Fixtures.smtp(up.port(), TlsLevel.MAY, null, null, false));
            for (int i = 0; i < 3; i++) {
                fresh.deliver(Fixtures.attempt(Fixtures.message("s@example.com", List.of("f@example.net"), "x\r\n")));
            }
            assertEquals(4, up.connections(), "without reuse each message opens its own connection");
        }
    }

    @Test
    void linesStartingWithADotArriveIntact() throws Exception {
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).start()) {
            QueuedMessage m = Fixtures.message("s@example.com", List.of("dots@example.net"),
                    ".leading dot\r\n..two dots\r\n.\r\nlast line\r\n");
            List<RecipientOutcome> out = dispatcher((r, s) -> Fixtures.smtp(up.port(), TlsLevel.NONE, null, null, false))
                    .deliver(Fixtures.attempt(m));
            assertInstanceOf(RecipientOutcome.Delivered.class, out.get(0));
            assertArrayEquals(m.content(), up.messages().get(0).content());
        }
    }

    @Test
    void temporaryFailureDefersThenDelivers() throws Exception {
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).tempfailFirst(1).start()) {
            Dispatcher d = dispatcher((r, s) -> Fixtures.smtp(up.port(), TlsLevel.NONE, null, null, false));
            QueuedMessage m = Fixtures.message("s@example.com", List.of("later@example.net"), "x\r\n");
            RecipientOutcome first = d.deliver(Fixtures.attempt(m)).get(0);
            assertInstanceOf(RecipientOutcome.Deferred.class, first);
            assertTrue(mailLog().contains("to=<later@example.net>, relay=127.0.0.1[127.0.0.1]:" + up.port()), mailLog());
            assertTrue(mailLog().contains("dsn=4.3.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.0"
                    + " <later@example.net>: try again later (in reply to RCPT TO command))"), mailLog());
            assertTrue(!mailLog().contains(m.id() + ": removed"), "a deferred message is not removed");
            RecipientOutcome second = d.deliver(Fixtures.attempt(m)).get(0);
            assertInstanceOf(RecipientOutcome.Delivered.class, second);
            assertTrue(Pattern.compile(m.id() + ": to=<later@example.net>, .*dsn=2.0.0, status=sent \\(250 2.0.0 Ok: "
                    + "queued as UP\\d+\\)").matcher(mailLog()).find(), mailLog());
            assertTrue(mailLog().contains(m.id() + ": removed"));
            assertTrue(queue.accepted.isEmpty());
        }
    }

    @Test
    void permanentFailureBouncesWithAnRfc3464Dsn() throws Exception {
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).reject("^bad@").start()) {
            QueuedMessage m = Fixtures.message("sender@example.com", List.of("bad@example.net", "good@example.net"),
                    "x\r\n");
            List<RecipientOutcome> out = dispatcher((r, s) -> Fixtures.smtp(up.port(), TlsLevel.NONE, null, null, false))
                    .deliver(Fixtures.attempt(m));
            assertInstanceOf(RecipientOutcome.Failed.class, out.get(0));
            assertInstanceOf(RecipientOutcome.Delivered.class, out.get(1));
            assertEquals(List.of("good@example.net"), up.messages().get(0).recipients());

            assertEquals(1, queue.accepted.size());
            QueuedMessage dsn = queue.accepted.get(0);
            assertEquals("", dsn.envelope().sender());
            assertEquals(List.of("sender@example.com"), dsn.envelope().recipients());
            MimeMessage parsed = new MimeMessage(Session.getInstance(new Properties()),
                    new ByteArrayInputStream(dsn.content()));
            assertTrue(parsed.getContentType().startsWith("multipart/report"), parsed.getContentType());
            assertTrue(parsed.getContentType().contains("report-type=delivery-status"));
            assertEquals("Undelivered Mail Returned to Sender", parsed.getSubject());
            assertEquals("auto-replied", parsed.getHeader("Auto-Submitted")[0]);
            assertEquals("MAILER-DAEMON@relay.test", ((InternetAddress) parsed.getFrom()[0]).getAddress());
            MimeMultipart parts = (MimeMultipart) parsed.getContent();
            assertEquals(3, parts.getCount());
            assertTrue(parts.getBodyPart(1).isMimeType("message/delivery-status"));
            String status;
            try (InputStream in = parts.getBodyPart(1).getInputStream()) {
                status = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            assertTrue(status.contains("Final-Recipient: rfc822; bad@example.net"), status);
            assertTrue(status.contains("Action: failed"), status);
            assertTrue(status.contains("Status: 5.1.1"), status);
            assertTrue(status.contains("Diagnostic-Code: smtp; 550 5.1.1"), status);
            assertTrue(status.contains("X-Relay-Queue-ID: " + m.id()), status);
            assertTrue(!status.contains("good@example.net"), status);
            assertTrue(parts.getBodyPart(2).isMimeType("text/rfc822-headers"));

            String logged = mailLog();
            assertTrue(logged.contains("to=<bad@example.net>, relay=127.0.0.1[127.0.0.1]:" + up.port()), logged);
            assertTrue(logged.contains("dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1"), logged);
            assertTrue(logged.contains("(in reply to RCPT TO command))"), logged);
            assertTrue(logged.contains("relay/bounce[") && logged.contains(m.id() + ": sender non-delivery notification: "
                    + dsn.id()), logged);
            assertTrue(logged.contains(m.id() + ": removed"), logged);
        }
    }

    @Test
    void noDsnForTheNullSender() throws Exception {
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).reject("^bad@").start()) {
            QueuedMessage m = Fixtures.message("", List.of("bad@example.net"), "x\r\n");
            List<RecipientOutcome> out = dispatcher((r, s) -> Fixtures.smtp(up.port(), TlsLevel.NONE, null, null, false))
                    .deliver(Fixtures.attempt(m));
            assertInstanceOf(RecipientOutcome.Failed.class, out.get(0));
            assertTrue(queue.accepted.isEmpty());
            assertTrue(mailLog().contains(m.id() + ": undeliverable mail from the null sender"), mailLog());
        }
    }

    @Test
    void fallbackRelayTakesOverWhenThePrimaryRefusesConnections() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).start()) {
            NextHop fallback = new NextHop("127.0.0.1", up.port(), false);
            QueuedMessage m = Fixtures.message("s@example.com", List.of("fb@example.net"), "x\r\n");
            List<RecipientOutcome> out = dispatcher((r, s) -> Fixtures.smtp(closed, TlsLevel.NONE, null, null, false,
                    fallback)).deliver(Fixtures.attempt(m));
            assertInstanceOf(RecipientOutcome.Delivered.class, out.get(0));
            assertEquals(1, up.messages().size());
            assertTrue(mailLog().contains("relay=127.0.0.1[127.0.0.1]:" + up.port()), mailLog());
        }
    }

    @Test
    void connectionRefusedIsDeferredWithRelayNone() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        QueuedMessage m = Fixtures.message("s@example.com", List.of("x@example.net"), "x\r\n");
        RecipientOutcome out = dispatcher((r, s) -> Fixtures.smtp(closed, TlsLevel.NONE, null, null, false))
                .deliver(Fixtures.attempt(m)).get(0);
        assertInstanceOf(RecipientOutcome.Deferred.class, out);
        assertTrue(mailLog().contains("to=<x@example.net>, relay=none, delay="), mailLog());
        assertTrue(mailLog().contains("dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:" + closed
                + ": Connection refused)"), mailLog());
    }

    @Test
    void localKindsFileDiscardAndErrorEachGetTheirOwnLane() throws Exception {
        Path mailDir = dir.resolve("mail");
        Dispatcher d = dispatcher((rcpt, sender) -> switch (rcpt.substring(0, rcpt.indexOf('@'))) {
            case "file" -> Fixtures.local(new Agent.FileDrop(mailDir.toString()), "file");
            case "gone" -> Fixtures.local(new Agent.Discard(""), "discard");
            default -> Fixtures.local(new Agent.Bounce("5.1.2 this domain takes no mail"), "error");
        });
        QueuedMessage m = Fixtures.message("s@example.com", List.of("file@example.net", "gone@example.net",
                "err@example.org"), "local body\r\n");
        List<RecipientOutcome> out = d.deliver(Fixtures.attempt(m));
        assertInstanceOf(RecipientOutcome.Delivered.class, out.get(0));
        assertInstanceOf(RecipientOutcome.Delivered.class, out.get(1));
        assertInstanceOf(RecipientOutcome.Failed.class, out.get(2));

        Path eml = mailDir.resolve(m.id() + ".eml");
        String written = Files.readString(eml);
        assertTrue(written.startsWith("Return-Path: <s@example.com>\r\nDelivered-To: file@example.net\r\n"), written);
        assertTrue(written.endsWith(new String(m.content(), StandardCharsets.UTF_8)));
        try (var files = Files.list(mailDir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
        String logged = mailLog();
        assertTrue(logged.contains("relay/file[") && logged.contains("to=<file@example.net>, relay=file"), logged);
        assertTrue(logged.contains("relay/discard[") && logged.contains("to=<gone@example.net>, relay=none"), logged);
        assertTrue(logged.contains("dsn=2.0.0, status=sent (discarded)"), logged);
        assertTrue(logged.contains("relay/error[") && logged.contains(
                "to=<err@example.org>, relay=none"), logged);
        assertTrue(logged.contains("dsn=5.1.2, status=bounced (5.1.2 this domain takes no mail)"), logged);
        assertEquals(1, queue.accepted.size(), "the error: recipient is returned to the sender");
    }

    @Test
    void pflogsummCountsWhatTheTestsObserved() throws Exception {
        Tools.require(Tools.PFLOGSUMM);
        int sent = 0;
        int deferred = 0;
        int bounced = 0;
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).reject("^bad").tempfailFirst(1).start()) {
            Dispatcher d = dispatcher((r, s) -> Fixtures.smtp(up.port(), TlsLevel.NONE, null, null, true));
            for (int i = 0; i < 4; i++) {
                QueuedMessage m = Fixtures.message("s@example.com", List.of("ok" + i + "@example.net",
                        "bad" + i + "@example.net"), "x\r\n");
                for (int attempt = 0; attempt < 2; attempt++) {
                    for (RecipientOutcome o : d.deliver(Fixtures.attempt(m))) {
                        if (o instanceof RecipientOutcome.Delivered) {
                            sent++;
                        } else if (o instanceof RecipientOutcome.Deferred) {
                            deferred++;
                        } else {
                            bounced++;
                        }
                    }
                }
            }
        }
        assertTrue(sent > 0 && deferred > 0 && bounced > 0, sent + "/" + deferred + "/" + bounced);
        Process p = new ProcessBuilder(Tools.PFLOGSUMM, "--syslog-name=relay", logFile.toString())
                .redirectErrorStream(true).start();
        String report;
        try {
            report = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        } finally {
            p.destroyForcibly();
        }
        assertEquals(sent, total(report, "delivered"), report);
        assertEquals(deferred, total(report, "deferred"), report);
        assertEquals(bounced, total(report, "bounced"), report);
    }

    @Test
    void aSlowServerIsDeferredAfterTheReplyTimeout() throws Exception {
        try (UpstreamSink slow = UpstreamSink.start(Files.createDirectories(dir.resolve("slow")), "-w", "4");
             SmtpClient quick = new SmtpClient("relay.test", Duration.ofSeconds(2), Duration.ofSeconds(1),
                     Duration.ofSeconds(1), new AddressRecordResolver())) {
            long t0 = System.nanoTime();
            SmtpDelivery d = quick.deliver(new NextHop("127.0.0.1", slow.port(), false),
                    new SmtpClient.Policy(TlsLevel.NONE, null, null, false), "s@example.com", List.of("t@example.net"),
                    "Subject: t\r\n\r\nx\r\n".getBytes(StandardCharsets.US_ASCII), false, false);
            RecipientResult r = d.results().get(0);
            assertEquals(RecipientResult.Status.DEFERRED, r.status(), r.toString());
            // smtp-sink holds back the replies of a pipelined batch until it answers DATA.
            assertTrue(r.detail().startsWith("conversation with 127.0.0.1[127.0.0.1] timed out while sending "),
                    r.detail());
            assertEquals("4.4.2", r.dsn());
            assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(4).toNanos(), "gave up after smtp.reply-timeout");
        }
    }

    @Test
    void mailParametersFollowTheServerAndTheEnvelope() throws Exception {
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(dir).start()) {
            SmtpClient.Policy policy = new SmtpClient.Policy(TlsLevel.NONE, null, null, false);
            byte[] eightBit = "Subject: t\r\n\r\ncaf\u00e9\r\n".getBytes(StandardCharsets.UTF_8);
            SmtpDelivery d = client.deliver(new NextHop("127.0.0.1", up.port(), false), policy, "s@example.com",
                    List.of("p@example.net"), eightBit, false, false);
            assertEquals(RecipientResult.Status.SENT, d.results().get(0).status(), d.toString());
            List<String> opts = up.messages().get(0).mailOptions();
            assertTrue(opts.contains("SIZE=" + eightBit.length), opts.toString());
            assertTrue(opts.contains("BODY=8BITMIME"), opts.toString());

            SmtpDelivery utf8 = client.deliver(new NextHop("127.0.0.1", up.port(), false), policy, "s@example.com",
                    List.of("u@example.net"), eightBit, true, true);
            assertEquals(RecipientResult.Status.SENT, utf8.results().get(0).status(), utf8.toString());
            assertTrue(up.messages().get(1).mailOptions().contains("SMTPUTF8"), up.messages().get(1).mailOptions().toString());
            assertEquals(2, up.messages().size());
        }
    }

    private static int total(String report, String what) {
        Matcher m = Pattern.compile("(?m)^\\s*(\\d+)\\s+" + what + "\\b").matcher(report);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }
}
