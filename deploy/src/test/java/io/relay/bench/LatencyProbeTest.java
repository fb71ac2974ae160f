package io.relay.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** LatencyProbe against Postfix's smtp-sink: paced, every transaction answered, latencies recorded. */
class LatencyProbeTest {
    private static final Path SMTP_SINK = Path.of("/usr/sbin/smtp-sink");

    @Test
    void percentileIsNearestRank() {
        long[] sorted = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        assertEquals(5, LatencyProbe.percentile(sorted, 0.50));
        assertEquals(10, LatencyProbe.percentile(sorted, 0.99));
        assertEquals(-1, LatencyProbe.percentile(new long[0], 0.5));
    }

    @Test
    void messageHasTheBodySizeAndNoLeadingDots() {
        String m = new String(LatencyProbe.message(4096), java.nio.charset.StandardCharsets.US_ASCII);
        String body = m.substring(m.indexOf("\r\n\r\n") + 4);
        assertEquals(4096, body.length());
        assertTrue(body.lines().noneMatch(l -> l.startsWith(".")));
    }

    @Test
    void pacedProbeAgainstSmtpSink() throws Exception {
        if (!Files.isExecutable(SMTP_SINK)) {
            if (Boolean.getBoolean("relay.requireTools")) {
                throw new AssertionError("missing tool: smtp-sink (postfix)");
            }
            Assumptions.abort("missing tool: smtp-sink (postfix)");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        List<String> cmd = new ArrayList<>(List.of(SMTP_SINK.toString()));
        if ("root".equals(System.getProperty("user.name"))) {
            cmd.addAll(List.of("-u", "nobody"));
        }
        cmd.addAll(List.of("127.0.0.1:" + port, "64"));
        Process sink = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            awaitListening(port);
            String json = new LatencyProbe("127.0.0.1", port, 200, 1.0, 0.5, 4, 4096, 3, true).run();
            assertEquals(300, number(json, "sent"), json);
            assertEquals(300, number(json, "ok"), json);
            assertEquals(200, number(json, "recorded"), json);
            assertTrue(number(json, "p50_ms") > 0 && number(json, "p99_ms") >= number(json, "p50_ms"), json);
            assertTrue(json.endsWith("\"errors\":{}}"), json);
            // paced, not flat out: 300 messages at 200/s take about 1.5 s
            assertTrue(number(json, "seconds") >= 1.4, json);
        } finally {
            sink.destroy();
            sink.waitFor();
        }
    }

    private static double number(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":(-?[0-9.]+)").matcher(json);
        assertTrue(m.find(), key + " missing in " + json);
        return Double.parseDouble(m.group(1));
    }

    private static void awaitListening(int port) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return;
            } catch (IOException e) {
                Thread.sleep(50);
            }
        }
        throw new AssertionError("smtp-sink did not listen on port " + port);
    }
}
