package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import io.relay.node.testing.UpstreamSink;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Graceful drain on SIGTERM (issue 5 item 5): /readyz answers 503 at once, the node keeps
 * serving for health.drain-delay, then refuses new connections (readyz names the failing
 * smtp-listener check), lets the session that is in DATA finish its message (250), exits 0,
 * and the message reaches the upstream. The health checks leave no line in the mail log.
 */
class DrainTest {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void sigtermDrainsAndLosesNothing(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        Files.createDirectories(dir.resolve("sink"));
        try (UpstreamSink sink = UpstreamSink.start(dir.resolve("sink"))) {
            int smtp = Ports.free();
            int healthPort = Ports.free();
            Path nodeDir = dir.resolve("node");
            String yaml = new NodeYaml(nodeDir, smtp, healthPort, Ports.free()).with(RelayYaml.create()
                    .hostname("relay-under-test.test").relayhost(sink.port()).set("smtp.tls-security-level", "none")
                    .drain("3s", "20s").text());
            try (NodeProcess node = NodeProcess.start(nodeDir, yaml, smtp)) {
                // the health server starts just after the SMTP listener the start waited for
                awaitStatus(healthPort, 200, Duration.ofSeconds(30));

                try (Socket inData = new Socket("127.0.0.1", smtp)) {
                    inData.setSoTimeout(30_000);
                    BufferedReader in = new BufferedReader(new InputStreamReader(inData.getInputStream(), StandardCharsets.US_ASCII));
                    OutputStream out = inData.getOutputStream();
                    expect(in, "220");
                    send(out, "EHLO app.test\r\n");
                    expect(in, "250");
                    send(out, "MAIL FROM:<app@example.com>\r\n");
                    expect(in, "250");
                    send(out, "RCPT TO:<someone@example.org>\r\n");
                    expect(in, "250");
                    send(out, "DATA\r\n");
                    expect(in, "354");
                    send(out, "Subject: in flight during the drain\r\nX-Test-Tag: drain-1\r\n\r\nfirst half\r\n");

                    long t0 = System.nanoTime();
                    node.signalTerm();
                    HttpResponse<String> ready = awaitStatus(healthPort, 503, Duration.ofSeconds(2));
                    assertTrue(ready.body().contains("draining"), ready.body());
                    assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "503 at once");
                    assertEquals(200, get(healthPort, "/healthz").statusCode(), "still alive while draining");

                    // during the drain delay the node still serves new connections
                    try (Socket late = new Socket("127.0.0.1", smtp)) {
                        late.setSoTimeout(5000);
                        BufferedReader lin = new BufferedReader(new InputStreamReader(late.getInputStream(), StandardCharsets.US_ASCII));
                        expect(lin, "220");
                        send(late.getOutputStream(), "QUIT\r\n");
                        expect(lin, "221");
                    }
                    // after it, the listener is closed
                    Thread.sleep(Math.max(0, 4000 - (System.nanoTime() - t0) / 1_000_000));
                    assertThrows(ConnectException.class, () -> {
                        try (Socket s = new Socket()) {
                            s.connect(new InetSocketAddress("127.0.0.1", smtp), 1000);
                        }
                    });
                    // and readiness names the closed listener beside the drain
                    HttpResponse<String> closed = get(healthPort, "/readyz");
                    assertEquals(503, closed.statusCode(), closed.body());
                    assertTrue(closed.body().contains(
                            "\"smtp-listener\":{\"ok\":false,\"reason\":\"SMTP listeners closed\"}"), closed.body());
                    // the session in DATA finishes its message
                    send(out, "second half\r\n.\r\n");
                    String done = expect(in, "250");
                    assertTrue(done.contains("queued as"), done);
                    send(out, "QUIT\r\n");
                    expect(in, "221");
                }
                assertEquals(0, node.awaitExit(Duration.ofSeconds(40)), "exit code after the drain");
                if (sink.messageCount() < 1) {
                    node.restart(); // still in the spool: the next start delivers it
                }
                assertEquals(1, sink.awaitMessages(1, Duration.ofSeconds(30)), "the drained message arrived");
                String log = Files.readString(nodeDir.resolve("mail.log"));
                assertFalse(log.contains("readyz") || log.contains("healthz") || log.contains("HTTP"),
                        "health checks never reach the mail log: " + log);
            }
        }
    }

    private HttpResponse<String> getOrNull(int port) throws InterruptedException {
        try {
            return get(port, "/readyz");
        } catch (IOException notListeningYet) {
            return null;
        }
    }

    private HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> awaitStatus(int port, int status, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        HttpResponse<String> last = getOrNull(port);
        while ((last == null || last.statusCode() != status) && System.nanoTime() < deadline) {
            Thread.sleep(50);
            last = getOrNull(port);
        }
        if (last == null) {
            throw new AssertionError("health port " + port + " never answered within " + timeout);
        }
        assertEquals(status, last.statusCode(), last.body());
        return last;
    }

    private static void send(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static String expect(BufferedReader in, String code) throws IOException {
        String line;
        do {
            line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed, expected " + code);
            }
        } while (line.length() > 3 && line.charAt(3) == '-');
        assertTrue(line.startsWith(code), "expected " + code + ", got " + line);
        return line;
    }
}
