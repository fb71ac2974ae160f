package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16 item 10, from the user's side: a hostile client's text stays inert. A node in its own
 * JVM relays through a real upstream (aiosmtpd); raw sockets play the attacker, since no polite
 * client sends a bare CR inside EHLO. The HELO/EHLO argument with control characters is refused
 * with 501 and the upstream never receives a bare CR or control byte in our Received header; an
 * SMTPUTF8 sender with line separators and bidi controls and a Message-ID with ESC/BEL reach the
 * mail log only masked, so no forged line and no terminal escape.
 */
class FirstHourHostileClientTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @TempDir
    static Path dir;
    private static AiosmtpdUpstream upstream;
    private static NodeProcess node;

    @BeforeAll
    static void start() throws Exception {
        Tools.require(Tools.PYTHON3);
        Tools.requirePythonModule("aiosmtpd");
        upstream = AiosmtpdUpstream.builder(Files.createDirectories(dir.resolve("upstream"))).start();
        int smtp = Ports.free();
        // what an operator writes: a relay host, who may relay, where the log goes
        String yaml = NodeYaml.in(dir.resolve("node"), smtp).with("""
                smtpd:
                  hostname: relay-under-test.test
                  mynetworks: [127.0.0.1/32]
                  relay-domains: [relay.example]
                smtp:
                  relayhost: "[127.0.0.1]:%d"
                  default-transport: smtp
                  tls-security-level: none
                """.formatted(upstream.port()));
        node = NodeProcess.start(dir.resolve("node"), yaml, smtp);
    }

    @AfterAll
    static void stop() throws Exception {
        if (node != null) {
            node.keepLogs(Path.of("target", "firsthour-hostile-client"), "node.err", "node.out", "mail.log");
            node.terminate(BOUND);
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void ehloWithControlCharactersIsRefusedAndNoRawByteReachesTheUpstreamsReceivedHeader() throws Exception {
        try (Raw c = new Raw(node.smtpPort())) {
            c.expect("220");
            String ehlo = c.send("EHLO evil\rX-Injected:yes\u0000\u001b[31m");
            assertTrue(ehlo.startsWith("501 5.5.2"), "hostile EHLO: " + ehlo);
            // the attacker goes on as if it had been accepted: whatever the replies, nothing it
            // sent may reach the upstream in a header we wrote
            if (c.send("MAIL FROM:<a@app.test>").startsWith("250")
                    && c.send("RCPT TO:<x@relay.example>").startsWith("250") && c.send("DATA").startsWith("354")) {
                c.send("Subject: hostile\r\n\r\nhostile\r\n.");
            }
            c.send("RSET");
            assertTrue(c.send("EHLO web1.app.test").startsWith("250"));
            assertTrue(c.send("MAIL FROM:<app@app.test>").startsWith("250"));
            assertTrue(c.send("RCPT TO:<user@relay.example>").startsWith("250"));
            assertTrue(c.send("DATA").startsWith("354"));
            String done = c.send("Subject: after the hostile EHLO\r\nX-Tag: clean\r\n\r\nbody\r\n.");
            assertTrue(done.startsWith("250"), done);
        }
        assertTrue(upstream.awaitMessage(m -> m.text().contains("X-Tag: clean"), BOUND).isPresent(),
                "not within " + BOUND);
        List<AiosmtpdUpstream.Received> got = upstream.messages();
        for (AiosmtpdUpstream.Received m : got) {
            String head = headerSection(m.content());
            assertEquals(-1, badByte(head), "raw control byte in the header section the upstream received:\n" + head);
            assertFalse(head.contains("X-Injected"), head);
        }
        String log = node.mailLog();
        assertFalse(log.contains("\u001b"), log);
    }

    @Test
    void smtputf8SeparatorsBidiAndEscapesReachTheMailLogOnlyMasked() throws Exception {
        // a quoted local part may hold spaces and colons: the line after U+2028/U+0085 reads as ours
        String forged = "Dec  1 00:00:00 relay/smtpd[1]: forged"; // a local part is at most 64
        String sender = "\"ops\u0085\u2028" + forged + "\u2029\u202Egro.elpmaxe\"@app.test";
        String queued;
        try (Raw c = new Raw(node.smtpPort())) {
            c.expect("220");
            assertTrue(c.send("EHLO web1.app.test").startsWith("250"));
            String mail = c.send("MAIL FROM:<" + sender + "> SMTPUTF8");
            assertTrue(mail.startsWith("250"), mail);
            assertTrue(c.send("RCPT TO:<user@relay.example>").startsWith("250"));
            assertTrue(c.send("DATA").startsWith("354"));
            queued = c.send("Message-ID: <\u001b[2J\u001b]0;owned\u0007evil@app.test>\r\n"
                    + "Subject: escapes\r\n\r\nbody\r\n.");
            assertTrue(queued.startsWith("250 2.0.0 Ok: queued as "), queued);
        }
        String id = queued.substring("250 2.0.0 Ok: queued as ".length()).trim();
        node.awaitMailLog(id + ": from=<", BOUND);
        String log = node.mailLog();
        int bad = badChar(log);
        assertEquals(-1, bad, "raw U+" + (bad < 0 ? "" : Integer.toHexString(log.charAt(bad))) + " in the mail log:\n"
                + log);
        for (String line : log.split("[\r\n\u0085\u2028\u2029]")) {
            assertFalse(line.startsWith("Dec  1 00:00:00"), "a forged line: " + line);
        }
        assertTrue(log.contains(id + ": message-id=<?[2J?]0;owned?evil@app.test>"), log);
        assertTrue(log.contains(id + ": from=<\"ops??" + forged + "??gro.elpmaxe\"@app.test>"), log);
    }

    /** Index of a control or bidi character that must never be raw in a log file, or -1. */
    private static int badChar(String log) {
        for (int i = 0; i < log.length(); i++) {
            char ch = log.charAt(i);
            boolean bad = (ch < 0x20 && ch != '\n') || (ch >= 0x7F && ch <= 0x9F) || ch == '\u2028' || ch == '\u2029'
                    || (ch >= '\u202A' && ch <= '\u202E') || (ch >= '\u2066' && ch <= '\u2069') || ch == '\u200E'
                    || ch == '\u200F';
            if (bad) {
                return i;
            }
        }
        return -1;
    }

    /** Index of a byte below 0x20 other than TAB and CRLF, of a bare CR or LF, or of DEL; -1 if none. */
    private static int badByte(String head) {
        for (int i = 0; i < head.length(); i++) {
            char ch = head.charAt(i);
            if (ch == '\r') {
                if (i + 1 >= head.length() || head.charAt(i + 1) != '\n') {
                    return i;
                }
                i++;
            } else if ((ch < 0x20 && ch != '\t') || ch == 0x7F) {
                return i;
            }
        }
        return -1;
    }

    private static String headerSection(byte[] content) {
        String text = new String(content, StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        return end < 0 ? text : text.substring(0, end + 2);
    }

    /** A raw SMTP client that sends exactly the bytes it is given (UTF-8) and reads whole replies. */
    static final class Raw implements AutoCloseable {
        private final Socket socket = new Socket();
        private final InputStream in;
        private final OutputStream out;

        Raw(int port) throws IOException {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            socket.setSoTimeout(30_000);
            in = socket.getInputStream();
            out = socket.getOutputStream();
        }

        /** Sends {@code line} and CRLF; returns the last line of the reply. */
        String send(String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            return reply();
        }

        void expect(String code) throws IOException {
            String r = reply();
            if (!r.startsWith(code)) {
                throw new IOException("expected " + code + ", got " + r);
            }
        }

        private String reply() throws IOException {
            String line;
            do {
                line = readLine();
            } while (line.length() > 3 && line.charAt(3) == '-');
            return line;
        }

        private String readLine() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != '\n') {
                if (c < 0) {
                    throw new IOException("connection closed after " + b.toString(StandardCharsets.UTF_8));
                }
                if (c != '\r') {
                    b.write(c);
                }
            }
            return b.toString(StandardCharsets.UTF_8);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
