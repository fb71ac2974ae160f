package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 16, item 4: mail the way web apps send it (lines ending in a bare LF) and the SMTP
 * smuggling end-of-data shapes, against a node in its own JVM that relays to a real upstream
 * (aiosmtpd, which keeps the bytes it received and ends DATA only at CRLF.CRLF). With
 * {@code smtpd.forbid-bare-newline} normalize (the default), reject and no: nothing hidden
 * becomes a second message, and the upstream receives only CRLF line ends.
 */
class FirstHourDataTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** The smuggling shapes that a lenient receiver takes for the end of DATA. */
    private static final List<String> SHAPES = List.of("\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r", "\n.\r");

    /** A minimal operator's YAML: relay to the upstream, and {@code smtpd} keys if any. */
    private static String yaml(Path dir, int smtp, int upstream, String smtpd) {
        return NodeYaml.in(dir, smtp).with(smtpd + """
                smtp:
                  relayhost: "[127.0.0.1]:%d"
                  default-transport: smtp
                """.formatted(upstream));
    }

    /** smtplib.sendmail with bytes sends them as they are: bare LF line ends, dots stuffed after each LF. */
    @Test
    void pythonSmtplibSendingBareLfBytesIsDeliveredWithCrlf(@TempDir Path dir) throws Exception {
        Tools.require(Tools.PYTHON3);
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(dir).start()) {
            int smtp = Ports.free();
            try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml(dir.resolve("node"), smtp,
                    upstream.port(), ""), smtp)) {
                Path script = dir.resolve("webapp.py");
                Files.writeString(script, """
                        import smtplib, sys
                        msg = (b"From: app@app.test\\nTo: user@example.com\\nSubject: web app\\n\\n"
                               b"line one\\n.\\n..two dots\\nend\\n")
                        with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as s:
                            refused = s.sendmail("app@app.test", ["user@example.com"], msg)
                            print("refused:", refused)
                        """);
                Tools.Run p = Tools.run(Duration.ofSeconds(60), Tools.PYTHON3, script.toString(), Integer.toString(smtp));
                assertEquals(0, p.exit(), "smtplib's sendmail raised: " + p.output());

                awaitMessages(upstream, 1);
                List<AiosmtpdUpstream.Received> got = upstream.messages();
                assertEquals(1, got.size());
                byte[] raw = got.get(0).content();
                assertOnlyCrlf(raw);
                String text = got.get(0).text();
                assertTrue(text.contains("Subject: web app\r\n\r\nline one\r\n.\r\n..two dots\r\nend\r\n"), text);
            }
        }
    }

    /**
     * Each smuggling shape followed by a hidden second transaction, one session each. In no
     * mode does the upstream see more messages than the node answered 250 for, nor the hidden
     * sender; LF shapes are one message in normalize and no (the dot kept, stuffed on the way
     * out), 521 in reject; CR shapes are 521 in every mode.
     */
    @ParameterizedTest
    @ValueSource(strings = {"normalize", "reject", "no"})
    void smugglingShapesNeverBecomeASecondMessage(String mode, @TempDir Path dir) throws Exception {
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(dir).start()) {
            int smtp = Ports.free();
            String yaml = yaml(dir.resolve("node"), smtp, upstream.port(), """
                    smtpd:
                      forbid-bare-newline: %s
                    """.formatted(mode));
            try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp)) {
                int accepted = 0;
                for (int n = 0; n < SHAPES.size(); n++) {
                    String shape = SHAPES.get(n);
                    boolean lfOnly = shape.indexOf('\r') < 0 || shape.equals("\n.\r\n") || shape.equals("\r\n.\n");
                    boolean normalized = lfOnly && !mode.equals("reject");
                    String reply = smuggle(smtp, n, shape);
                    String shown = shape.replace("\r", "<CR>").replace("\n", "<LF>");
                    if (normalized) {
                        assertTrue(reply.startsWith("250 2.0.0 Ok: queued as "), mode + " " + shown + ": " + reply);
                        accepted++;
                    } else {
                        String which = mode.equals("reject") && shape.startsWith("\n") || lfOnly ? "<LF>" : "<CR>";
                        assertTrue(reply.matches("521 5\\.5\\.2 \\S+ Error: bare " + which + " received"),
                                mode + " " + shown + ": " + reply);
                    }
                }
                assertEquals(mode.equals("reject") ? 0 : 3, accepted);
                awaitMessages(upstream, accepted);
                Thread.sleep(1000); // a smuggled second message would come right behind
                List<AiosmtpdUpstream.Received> got = upstream.messages();
                assertEquals(accepted, got.size(), "messages at the upstream");
                for (AiosmtpdUpstream.Received r : got) {
                    assertEquals("app@app.test", r.sender());
                    assertEquals(List.of("user@example.com"), r.recipients());
                    assertOnlyCrlf(r.content());
                    // the hidden transaction arrived as text of the one message, its lone dot intact
                    assertTrue(r.text().matches("(?s).*legit \\d\r\n\\.\r\nMAIL FROM:<evil@attacker\\.test>\r\n"
                            + "RCPT TO:<victim@example\\.com>\r\nDATA\r\nSubject: smuggled \\d\r\n\r\nhidden\r\n"), r.text());
                }
                String log = node.mailLog();
                assertTrue(!log.contains("evil@attacker.test"), "the hidden sender is never a transaction: " + log);
            }
        }
    }

    /** One session: a message whose body holds {@code shape} and a hidden transaction; returns the reply to it. */
    private static String smuggle(int port, int n, String shape) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(30_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            expect(in, "220");
            for (String[] step : new String[][] {{"EHLO app.test", "250"}, {"MAIL FROM:<app@app.test>", "250"},
                    {"RCPT TO:<user@example.com>", "250"}, {"DATA", "354"}}) {
                out.write((step[0] + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                expect(in, step[1]);
            }
            String body = "Subject: shape " + n + "\r\n\r\nlegit " + n + shape
                    + "MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
                    + "Subject: smuggled " + n + "\r\n\r\nhidden\r\n.\r\n";
            out.write(body.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String reply = readReply(in);
            if (reply.startsWith("250")) {
                out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                // anything hidden answered here would be a second transaction in this session
                String next = readReply(in);
                assertTrue(next.startsWith("221"), "after the message: " + next);
            }
            return reply;
        }
    }

    private static void expect(InputStream in, String code) throws IOException {
        String reply = readReply(in);
        if (!reply.startsWith(code)) {
            throw new AssertionError("expected " + code + ", got " + reply);
        }
    }

    /** The last line of the next reply, without its CRLF; "" when the server closed. */
    private static String readReply(InputStream in) throws IOException {
        while (true) {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            int b;
            try {
                while ((b = in.read()) >= 0 && b != '\n') {
                    line.write(b);
                }
            } catch (SocketTimeoutException e) {
                return "(no reply in 30 s)";
            }
            String text = line.toString(StandardCharsets.US_ASCII).stripTrailing();
            if (b < 0 && text.isEmpty()) {
                return "";
            }
            if (text.length() < 4 || text.charAt(3) != '-') {
                return text;
            }
        }
    }

    private static void assertOnlyCrlf(byte[] raw) {
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == '\n') {
                assertTrue(i > 0 && raw[i - 1] == '\r', "bare LF at " + i + ": " + new String(raw, StandardCharsets.US_ASCII));
            } else if (raw[i] == '\r') {
                assertTrue(i + 1 < raw.length && raw[i + 1] == '\n', "bare CR at " + i);
            }
        }
    }

    static void awaitMessages(AiosmtpdUpstream upstream, int n) throws Exception {
        assertEquals(n, upstream.awaitMessages(n, BOUND).size(), "messages at the upstream within " + BOUND);
    }
}
