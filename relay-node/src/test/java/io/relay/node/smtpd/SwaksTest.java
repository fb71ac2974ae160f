package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.Tools;
import io.relay.queue.QueuedMessage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** swaks (Debian's) as the client: plain, PIPELINING, STARTTLS with the self-signed certificate, relay denied. */
class SwaksTest {
    /** What swaks sends as DATA (it dot-stuffs the dotted line; we must unstuff it). */
    private static final String MESSAGE = "From: app@web.example\r\nTo: u@d.example\r\nSubject: swaks\r\n"
            + "Message-ID: <m1@web.example>\r\nDate: Sun, 22 Nov 2026 21:00:00 +0000\r\n\r\nhello\r\n.leading dot\r\n";

    @TempDir
    Path dir;
    private SmtpServerFixture fx;

    @BeforeEach
    void requireSwaks() {
        Tools.require(Tools.SWAKS);
    }

    @AfterEach
    void stop() {
        if (fx != null) {
            fx.close();
        }
    }

    private record Run(int exit, String output) {}

    private Run swaks(String... extra) throws Exception {
        Path data = dir.resolve("data.eml");
        // swaks adds CRLF . CRLF after the file's text, so the file has no final newline
        String text = MESSAGE.replace("\r\n", "\n");
        Files.writeString(data, text.substring(0, text.length() - 1));
        List<String> cmd = new ArrayList<>(List.of(Tools.SWAKS, "--server", "127.0.0.1", "--port",
                String.valueOf(fx.address().getPort()), "--helo", "web1.example", "--from", "app@web.example",
                "--to", "u@d.example", "--data", data.toString(), "--timeout", "20"));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            boolean done = p.waitFor(30, TimeUnit.SECONDS);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(done, "swaks did not finish: " + out);
            return new Run(p.exitValue(), out);
        } finally {
            p.destroyForcibly();
        }
    }

    /** The queued content minus our Received header must be exactly what swaks sent. */
    private void assertQueuedExactly(String protocol) {
        assertEquals(1, fx.queue.accepted.size());
        QueuedMessage m = fx.queue.accepted.get(0);
        String content = new String(m.content(), StandardCharsets.UTF_8);
        assertTrue(content.startsWith("Received: from web1.example (unknown [127.0.0.1])\r\n\tby relay.test (relay) with "
                + protocol + " id " + m.id() + "\r\n\tfor <u@d.example>; "), content);
        String afterReceived = content.substring(content.indexOf("\r\n", content.indexOf("\tfor <")) + 2);
        assertEquals(MESSAGE, afterReceived);
        assertEquals("app@web.example", m.envelope().sender());
        assertEquals(List.of("u@d.example"), m.envelope().recipients());
    }

    @Test
    void plain() throws Exception {
        fx = new SmtpServerFixture(dir, SmtpServerFixture.Options.defaults());
        Run r = swaks();
        assertEquals(0, r.exit(), r.output());
        assertQueuedExactly("ESMTP");
    }

    @Test
    void pipelined() throws Exception {
        fx = new SmtpServerFixture(dir, SmtpServerFixture.Options.defaults());
        Run r = swaks("--pipeline");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("PIPELINING"), r.output());
        assertQueuedExactly("ESMTP");
    }

    @Test
    void starttlsWithSelfSignedCertificate() throws Exception {
        fx = new SmtpServerFixture(dir, SmtpServerFixture.Options.defaults());
        Run r = swaks("--tls");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("220 2.0.0 Ready to start TLS"), r.output());
        assertTrue(r.output().contains("TLS started"), r.output());
        assertQueuedExactly("ESMTPS");
    }

    @Test
    void relayDeniedFromOutsideMynetworks() throws Exception {
        fx = new SmtpServerFixture(dir, SmtpServerFixture.Options.defaults().relayDeniedOn("127.0.0.1", "127.0.0.1/32"));
        Run r = swaksFrom("127.0.0.2");
        assertEquals(24, r.exit(), r.output()); // swaks: 24 = error at RCPT
        assertTrue(r.output().contains("554 5.7.1 <u@d.example>: Relay access denied"), r.output());
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 <u@d.example>: Relay access denied;"
                + " from=<app@web.example> to=<u@d.example> proto=ESMTP helo=<web1.example>"), log);
        assertEquals(0, fx.queue.accepted.size());
    }

    private Run swaksFrom(String local) throws Exception {
        return swaks("--local-interface", local);
    }
}
