package io.relay.node.smtpd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import io.relay.queue.QueuedMessage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PROXY protocol against a real SmtpServer on loopback: swaks sending v1/v2 headers itself,
 * haproxy (send-proxy, send-proxy-v2) in front of the server, and raw sockets for bad headers
 * and load-balancer probes.
 */
class ProxyProtocolPeerTest {
    private static final ProxyProtocolSettings LOOPBACK_LB = new ProxyProtocolSettings(List.of("127.0.0.0/8"), true);
    private static final byte[] V2_LOCAL = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
            0x20, 0x00, 0x00, 0x00};

    @TempDir
    Path dir;
    private SmtpServerFixture fx;
    private Process haproxy;

    @AfterEach
    void stop() throws InterruptedException {
        if (haproxy != null) {
            haproxy.destroy();
            if (!haproxy.waitFor(5, TimeUnit.SECONDS)) {
                haproxy.destroyForcibly();
            }
        }
        if (fx != null) {
            fx.close();
        }
    }

    private SmtpServerFixture server(String mynetworks, ProxyProtocolSettings proxy) throws Exception {
        fx = new SmtpServerFixture(dir, SmtpServerFixture.Options.defaults().relayDeniedOn("127.0.0.1", mynetworks),
                proxy);
        return fx;
    }

    private record Run(int exit, String output) {}

    private Run swaks(int port, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Tools.SWAKS, "--server", "127.0.0.1", "--port",
                String.valueOf(port), "--helo", "web1.example", "--from", "app@web.example",
                "--to", "u@d.example", "--timeout", "20"));
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

    private static String[] proxy(int version, String family, String source) {
        return new String[] {"--proxy-version", String.valueOf(version), "--proxy-family", family,
                "--proxy-source", source, "--proxy-source-port", "40000", "--proxy-dest", "127.0.0.1",
                "--proxy-dest-port", "25"};
    }

    /** Sends bytes on a raw connection and answers what the server said before closing (empty = nothing). */
    private String rawExchange(byte[] bytes, boolean closeAfterWrite) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(fx.address(), 5000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(bytes);
            out.flush();
            if (closeAfterWrite) {
                return "";
            }
            InputStream in = s.getInputStream();
            StringBuilder sb = new StringBuilder();
            for (int c = in.read(); c >= 0 && sb.length() < 1000; c = in.read()) {
                sb.append((char) c);
            }
            return sb.toString();
        }
    }

    @Test
    void v1SourceIsTheClientEverywhere() throws Exception {
        Tools.require(Tools.SWAKS);
        server("192.0.2.0/24", LOOPBACK_LB);
        Run r = swaks(fx.address().getPort(), proxy(1, "TCP4", "192.0.2.10"));
        assertEquals(0, r.exit(), r.output());
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("connect from unknown[192.0.2.10]"), log);
        assertTrue(log.contains(": client=unknown[192.0.2.10]"), log);
        assertTrue(!log.contains("[127.0.0.1]"), log);
        assertEquals(1, fx.queue.accepted.size());
        QueuedMessage m = fx.queue.accepted.get(0);
        assertEquals("192.0.2.10", m.envelope().clientAddress());
        String content = new String(m.content(), StandardCharsets.UTF_8);
        assertTrue(content.startsWith("Received: from web1.example (unknown [192.0.2.10])"), content);
    }

    @Test
    void v2SourceOutsideMynetworksIsDenied() throws Exception {
        Tools.require(Tools.SWAKS);
        server("192.0.2.0/24", LOOPBACK_LB);
        Run r = swaks(fx.address().getPort(), proxy(2, "AF_INET", "203.0.113.9"));
        assertEquals(24, r.exit(), r.output()); // error at RCPT
        assertTrue(r.output().contains("554 5.7.1 <u@d.example>: Relay access denied"), r.output());
        String log = fx.awaitLog("disconnect from");
        assertTrue(log.contains("NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 <u@d.example>: "
                + "Relay access denied;"), log);
        assertEquals(0, fx.queue.accepted.size());
    }

    @Test
    void headerFromUntrustedPeerIsClosed() throws Exception {
        Tools.require(Tools.SWAKS);
        server("192.0.2.0/24", new ProxyProtocolSettings(List.of("10.0.0.0/8"), true));
        Run r = swaks(fx.address().getPort(), proxy(1, "TCP4", "192.0.2.10"));
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(!r.output().contains("220 "), r.output());
        assertEquals(0, fx.queue.accepted.size());
        assertEquals("", fx.log());
    }

    @Test
    void malformedOrMissingHeaderIsClosedWithoutGreeting() throws Exception {
        server("127.0.0.0/8", LOOPBACK_LB);
        assertEquals("", rawExchange("PROXY TCP4 192.0.2.x 127.0.0.1 40000 25\r\n".getBytes(StandardCharsets.US_ASCII),
                false));
        assertEquals("", rawExchange("EHLO client.example\r\n".getBytes(StandardCharsets.US_ASCII), false));
        assertEquals("", fx.log());
        assertEquals(0, fx.server.probeConnections(), "a refused connection is not a probe");
    }

    @Test
    void headerOnlyAndV2LocalAreQuietProbes() throws Exception {
        server("127.0.0.0/8", LOOPBACK_LB);
        rawExchange("PROXY TCP4 192.0.2.10 127.0.0.1 40000 25\r\n".getBytes(StandardCharsets.US_ASCII), true);
        rawExchange(V2_LOCAL, true);
        rawExchange(new byte[0], true); // TCP check without a header
        assertTrue(SmtpServerFixture.await(() -> fx.server.probeConnections() == 3),
                "probes: " + fx.server.probeConnections());
        assertEquals("", fx.log());
    }

    @Test
    void v2LocalThenSmtpUsesThePeerAddress() throws Exception {
        server("127.0.0.0/8", LOOPBACK_LB);
        String reply;
        try (Socket s = new Socket()) {
            s.connect(fx.address(), 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(V2_LOCAL);
            s.getOutputStream().write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
            reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        }
        assertTrue(reply.startsWith("220 relay.test ESMTP\r\n221 "), reply);
        assertTrue(fx.awaitLog("disconnect from").contains("connect from unknown[127.0.0.1]"), fx.log());
    }

    @Test
    void throughHaproxyTheLogShowsTheRealClient() throws Exception {
        Tools.require(Tools.SWAKS, Tools.HAPROXY);
        server("127.0.0.3/32", LOOPBACK_LB); // haproxy itself (127.0.0.1) may not relay
        int v1 = Ports.free();
        int v2 = Ports.free();
        int smtp = fx.address().getPort();
        startHaproxy(List.of(
                "listen v1",
                "  bind 127.0.0.1:" + v1,
                "  server s1 127.0.0.1:" + smtp + " send-proxy",
                "listen v2",
                "  bind 127.0.0.1:" + v2,
                "  server s2 127.0.0.1:" + smtp + " send-proxy-v2"), v1, v2);

        Run r1 = swaks(v1, "--local-interface", "127.0.0.3");
        assertEquals(0, r1.exit(), r1.output());
        Run r2 = swaks(v2, "--local-interface", "127.0.0.3");
        assertEquals(0, r2.exit(), r2.output());
        assertEquals(2, fx.queue.accepted.size());
        for (QueuedMessage m : fx.queue.accepted) {
            assertEquals("127.0.0.3", m.envelope().clientAddress());
        }
        SmtpServerFixture.await(() -> {
            try {
                return count(fx.log(), ": disconnect from") == 2;
            } catch (IOException e) {
                return false;
            }
        });
        String log = fx.log();
        assertEquals(2, count(log, ": connect from unknown[127.0.0.3]"), log);
        assertEquals(2, count(log, ": disconnect from unknown[127.0.0.3]"), log);
        assertEquals(0, count(log, "[127.0.0.1]"), log);
    }

    @Test
    void throughHaproxyMynetworksJudgesTheClientNotHaproxy() throws Exception {
        Tools.require(Tools.SWAKS, Tools.HAPROXY);
        server("127.0.0.0/30", LOOPBACK_LB); // haproxy (127.0.0.1) and 127.0.0.3 are inside, 127.0.0.5 is not
        int v2 = Ports.free();
        startHaproxy(List.of(
                "listen v2",
                "  bind 127.0.0.1:" + v2,
                "  server s2 127.0.0.1:" + fx.address().getPort() + " send-proxy-v2"), v2);

        Run outside = swaks(v2, "--local-interface", "127.0.0.5");
        assertEquals(24, outside.exit(), outside.output()); // error at RCPT
        assertTrue(outside.output().contains("554 5.7.1 <u@d.example>: Relay access denied"), outside.output());
        Run inside = swaks(v2, "--local-interface", "127.0.0.3");
        assertEquals(0, inside.exit(), inside.output());

        assertEquals(1, fx.queue.accepted.size());
        assertEquals("127.0.0.3", fx.queue.accepted.get(0).envelope().clientAddress());
        SmtpServerFixture.await(() -> {
            try {
                return count(fx.log(), ": disconnect from") == 2;
            } catch (IOException e) {
                return false;
            }
        });
        String log = fx.log();
        assertTrue(log.contains("NOQUEUE: reject: RCPT from unknown[127.0.0.5]: 554 5.7.1 <u@d.example>: "
                + "Relay access denied;"), log);
        assertEquals(0, count(log, "[127.0.0.1]"), log);
    }

    /** haproxy in the foreground with these proxy sections after a TCP defaults section; waits for its ports. */
    private void startHaproxy(List<String> sections, int... ports) throws Exception {
        List<String> lines = new ArrayList<>(List.of(
                "defaults",
                "  mode tcp",
                "  timeout connect 5s",
                "  timeout client 30s",
                "  timeout server 30s"));
        lines.addAll(sections);
        lines.add("");
        Path cfg = dir.resolve("haproxy.cfg");
        Files.writeString(cfg, String.join("\n", lines));
        haproxy = new ProcessBuilder(Tools.HAPROXY, "-db", "-f", cfg.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("haproxy.out").toFile()).start();
        assertTrue(SmtpServerFixture.await(() -> Arrays.stream(ports).allMatch(this::listening)),
                "haproxy did not listen: " + Files.readString(dir.resolve("haproxy.out")));
    }

    private boolean listening(int port) {
        if (!haproxy.isAlive()) {
            return false;
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int count(String text, String fragment) {
        int n = 0;
        for (int i = text.indexOf(fragment); i >= 0; i = text.indexOf(fragment, i + 1)) {
            n++;
        }
        return n;
    }
}
