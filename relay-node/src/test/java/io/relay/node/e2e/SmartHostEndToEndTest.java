package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.PostfixInstance;
import io.relay.node.testing.Tools;
import io.relay.node.testing.UpstreamCertificate;
import io.relay.node.testing.UpstreamSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The product of issue 2 end to end, with real peers on every side: a web server's
 * Postfix (relayhost = our node) or swaks as the client, our node in its own JVM, and an
 * upstream smart host (aiosmtpd with STARTTLS and AUTH, one that answers 4xx then
 * accepts, one that answers 5xx, smtp-sink). pflogsumm reads our mail log.
 */
class SmartHostEndToEndTest {
    private static final String USER = "AKIAEXAMPLE7RELAY";
    private static final String PASSWORD = "s3cr3t-Pa55w0rd-never-logged";

    static String nodeConfig(Path dir, int smtp, String smtpSection) {
        return nodeConfig(NodeYaml.in(dir, smtp), smtpSection);
    }

    /** As {@link #nodeConfig(Path, int, String)} with the node's ports and directory given. */
    static String nodeConfig(NodeYaml node, String smtpSection) {
        return node.with("""
                smtpd:
                  hostname: relay-under-test.test
                  mynetworks: [127.0.0.0/8]
                smtp:
                  default-transport: smtp
                %s
                queue:
                  minimal-backoff-time: 1s
                  maximal-backoff-time: 2s
                """.formatted(smtpSection.indent(2).stripTrailing()));
    }

    @Test
    void postfixRelaysThroughOurNodeToAStartTlsAuthSmartHost(@TempDir Path dir) throws Exception {
        Tools.require(Tools.POSTFIX, Tools.SWAKS, Tools.OPENSSL);
        Tools.requirePythonModule("aiosmtpd");
        Files.createDirectories(dir.resolve("up"));
        UpstreamCertificate cert = UpstreamCertificate.create(dir.resolve("up"), "smarthost", "DNS:localhost,IP:127.0.0.1");
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(dir.resolve("up"))
                .starttls(cert.certPem(), cert.keyPem()).auth(USER, PASSWORD).start()) {
            Path sasl = dir.resolve("sasl_passwd");
            Files.writeString(sasl, "[127.0.0.1]:" + upstream.port() + " " + USER + ":" + PASSWORD + "\n");
            // group-readable on purpose: the node must warn about it at start
            Files.setPosixFilePermissions(sasl, PosixFilePermissions.fromString("rw-r-----"));
            int smtp = Ports.free();
            String yaml = nodeConfig(dir.resolve("node"), smtp, """
                    relayhost: "[127.0.0.1]:%d"
                    tls-security-level: encrypt
                    sasl-password-file: %s""".formatted(upstream.port(), sasl));
            try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp);
                 PostfixInstance postfix = PostfixInstance.start(dir.resolve("postfix"), smtp)) {
                for (int i = 0; i < 5; i++) {
                    swaks(postfix.smtpPort(), "app@web1.test", "user" + i + "@example.com", List.of());
                }
                postfix.awaitSent(5, Duration.ofSeconds(60));
                await(() -> count(upstream) >= 5, Duration.ofSeconds(60));
                List<AiosmtpdUpstream.Received> got = upstream.messages();
                assertEquals(5, got.size());
                for (AiosmtpdUpstream.Received r : got) {
                    assertTrue(r.tls(), "STARTTLS to the smart host");
                    assertEquals(USER, r.authUser(), "AUTH with the sasl_passwd entry");
                    assertTrue(r.text().contains("by relay-under-test.test (relay)"), "our Received header");
                    assertTrue(r.text().contains("by postfix-fixture.test (Postfix)"), "Postfix's Received header");
                }
                String log = Files.readString(dir.resolve("node/mail.log"));
                assertTrue(log.contains("is readable by group or others") && log.contains("chmod 600"),
                        "warning about the credentials file: " + log);
                assertEquals(5, occurrences(log, "status=sent"), log);
                assertFalse(log.contains(PASSWORD) || node.stderr().contains(PASSWORD), "the password is never logged");
            }
        }
    }

    @Test
    void deferredThenSentBouncedWithDsnAndPflogsummAgrees(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SWAKS, Tools.PFLOGSUMM);
        Tools.requirePythonModule("aiosmtpd");
        Files.createDirectories(dir.resolve("up"));
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(dir.resolve("up")).tempfailFirst(1)
                .reject("^bounce").start()) {
            int smtp = Ports.free();
            String yaml = nodeConfig(dir.resolve("node"), smtp, """
                    relayhost: "[127.0.0.1]:%d"
                    tls-security-level: none""".formatted(upstream.port()));
            try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp)) {
                swaks(smtp, "app@example.com", "ok1@example.com", List.of());
                swaks(smtp, "app@example.com", "bounce-me@example.com", List.of());
                // ok1 is deferred once (451) and then sent; bounce-me gets 550 and its DSN goes
                // to app@example.com through the same smart host, itself deferred once.
                await(() -> count(upstream) >= 2, Duration.ofSeconds(60));
                List<AiosmtpdUpstream.Received> got = upstream.messages();
                assertEquals(2, got.size(), "the message and the DSN");
                AiosmtpdUpstream.Received dsn = got.stream().filter(r -> r.sender().isEmpty() || r.sender().equals("<>"))
                        .findFirst().orElseThrow(() -> new AssertionError("no DSN among " + got.stream()
                                .map(r -> r.sender() + "->" + r.recipients()).toList() + "\n" + readLog(dir)));
                assertEquals(List.of("app@example.com"), dsn.recipients());
                assertTrue(dsn.text().contains("multipart/report") && dsn.text().contains("report-type=delivery-status"), dsn.text());
                assertTrue(dsn.text().contains("Final-Recipient: rfc822; bounce-me@example.com"), dsn.text());
                assertTrue(dsn.text().contains("Status: 5.1.1"), dsn.text());

                Path log = dir.resolve("node/mail.log");
                String text = Files.readString(log);
                int sent = occurrences(text, "status=sent");
                int deferrals = occurrences(text, "status=deferred");
                int bounced = occurrences(text, "status=bounced");
                assertEquals(2, sent, text);
                assertEquals(1, bounced, text);
                assertTrue(deferrals >= 2, text);
                Process p = new ProcessBuilder(Tools.PFLOGSUMM, "--syslog-name=relay", log.toString())
                        .redirectErrorStream(true).start();
                String summary = new String(p.getInputStream().readAllBytes());
                p.waitFor();
                assertEquals(sent, grand(summary, "delivered"), summary);
                assertEquals(bounced, grand(summary, "bounced"), summary);
                Matcher m = Pattern.compile("(?m)^\\s*\\d+\\s+deferred\\s+\\((\\d+)\\s+deferrals?\\)").matcher(summary);
                assertTrue(m.find(), summary);
                assertEquals(deferrals, Integer.parseInt(m.group(1)), summary);
                System.out.printf("pflogsumm: delivered=%d bounced=%d deferrals=%d, as observed%n", sent, bounced, deferrals);
            }
        }
    }

    @Test
    void swaksPipeliningAndStartTlsThroughTheNode(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SWAKS, Tools.SMTP_SINK);
        Files.createDirectories(dir.resolve("sink"));
        try (UpstreamSink sink = UpstreamSink.start(dir.resolve("sink"))) {
            int smtp = Ports.free();
            String yaml = nodeConfig(dir.resolve("node"), smtp, """
                    relayhost: "[127.0.0.1]:%d"
                    tls-security-level: may""".formatted(sink.port()));
            try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp)) {
                swaks(smtp, "app@example.com", "a@example.com", List.of("--pipeline"));
                swaks(smtp, "app@example.com", "b@example.com", List.of("--tls"));
                swaks(smtp, "app@example.com", "c@example.com", List.of("--tls", "--pipeline"));
                assertEquals(3, sink.awaitMessages(3, Duration.ofSeconds(30)));
            }
        }
    }

    static void swaks(int port, String from, String to, List<String> extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Tools.SWAKS, "--server", "127.0.0.1:" + port, "--from", from,
                "--to", to, "--silent", "2", "--timeout", "30"));
        cmd.addAll(extra);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "swaks " + extra + ": " + out);
    }

    private static int count(AiosmtpdUpstream upstream) {
        try {
            return upstream.messages().size();
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private static String readLog(Path dir) {
        try {
            return Files.readString(dir.resolve("node/mail.log"));
        } catch (java.io.IOException e) {
            return "(no mail log)";
        }
    }

    static int occurrences(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static int grand(String summary, String label) {
        Matcher m = Pattern.compile("(?m)^\\s*(\\d+)\\s+" + label + "\\b").matcher(summary);
        if (!m.find()) {
            throw new AssertionError("no '" + label + "' in pflogsumm output:\n" + summary);
        }
        return Integer.parseInt(m.group(1));
    }

    static void await(BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
    }
}
