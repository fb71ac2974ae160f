package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.ServerLine;
import io.relay.node.testing.Tools;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16 item 11, from the user's side: one client cannot take every slot. 500 idle
 * connections from one outside address (127.0.0.2, loopback's /8 on Linux) are capped at
 * {@code smtpd.client-connection-limit} (default 50) while mail from mynetworks is still accepted
 * and delivered; behind a load balancer (hand-written PROXY v1 headers from a trusted address)
 * the limit counts the PROXY source, never the load balancer's own address.
 */
class FirstHourHostileConnectionsTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final String HOST = "relay-under-test.test";

    @TempDir
    Path dir;

    /** What an operator writes for this relay; {@code smtpdExtra}: more {@code smtpd} keys, indented as such. */
    private static String yaml(Path nodeDir, int smtp, int upstream, String smtpdExtra) {
        return NodeYaml.in(nodeDir, smtp).with("""
                smtpd:
                  hostname: %s
                  mynetworks: [127.0.0.1/32]
                  relay-domains: [relay.example]
                %s
                smtp:
                  relayhost: "[127.0.0.1]:%d"
                  default-transport: smtp
                  tls-security-level: none
                """.formatted(HOST, smtpdExtra.stripTrailing(), upstream));
    }

    @Test
    void fiveHundredIdleConnectionsFromOneOutsideAddressLeaveRoomForMynetworks() throws Exception {
        Tools.require(Tools.PYTHON3, Tools.SWAKS);
        Tools.requirePythonModule("aiosmtpd");
        List<Socket> idle = new ArrayList<>();
        Path upstreamDir = Files.createDirectories(dir.resolve("upstream"));
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(upstreamDir).start()) {
            int smtp = Ports.free();
            Path nodeDir = dir.resolve("node");
            // no limit key: the default (50) is what protects the node
            try (NodeProcess node = NodeProcess.start(nodeDir, yaml(nodeDir, smtp, upstream.port(), ""), smtp)) {
                try {
                    int greeted = 0;
                    int refused = 0;
                    String refusal = null;
                    for (int i = 0; i < 500; i++) {
                        Socket s = connect("127.0.0.2", smtp);
                        String first = ServerLine.next(s);
                        if (first.startsWith("220 ")) {
                            greeted++;
                            idle.add(s); // held open and silent, as the attacker does
                        } else {
                            refused++;
                            refusal = first;
                            s.close();
                        }
                    }
                    assertEquals(50, greeted, "greeted connections from one outside address");
                    assertEquals(450, refused);
                    assertEquals("421 4.7.0 " + HOST + " Error: too many connections from 127.0.0.2", refusal);

                    // mynetworks (127.0.0.1) still gets in and its mail is delivered
                    Tools.Run r = Tools.swaks(smtp, "--ehlo", "web1.app.test", "--from", "app@app.test",
                            "--to", "user@relay.example", "--header", "Subject: mynetworks-while-flooded");
                    assertEquals(0, r.exit(), r.output());
                    assertTrue(upstream.awaitMessage(m -> m.text().contains("mynetworks-while-flooded"), BOUND)
                            .isPresent(), "not within " + BOUND);

                    String log = node.mailLog();
                    assertTrue(log.contains("warning: Connection concurrency limit exceeded: 51 from unknown[127.0.0.2]"
                            + " for service smtp"), log);

                    // every path gives its count back: once the idle ones are closed the address has
                    // 50 again (the 450 refused ones were released as they closed)
                    closeAll(idle);
                    await(() -> probe("127.0.0.2", smtp).startsWith("220 "), BOUND);
                    Thread.sleep(500); // the node sees the probe's close too
                    int again = 0;
                    for (int i = 0; i < 51; i++) {
                        Socket s = connect("127.0.0.2", smtp);
                        String first = ServerLine.next(s);
                        if (first.startsWith("220 ")) {
                            again++;
                            idle.add(s);
                        } else {
                            s.close();
                        }
                    }
                    assertEquals(50, again, "after the close, the limit starts from zero");
                } finally {
                    closeAll(idle);
                    node.keepLogs(Path.of("target", "firsthour-hostile-connections"), "node.err", "mail.log");
                }
            }
        }
    }

    @Test
    void behindALoadBalancerTheLimitCountsTheProxySourceNotTheBalancer() throws Exception {
        List<Socket> open = new ArrayList<>();
        int smtp = Ports.free();
        Path nodeDir = dir.resolve("node");
        String yaml = yaml(nodeDir, smtp, Ports.free(), """
                  client-connection-limit: 10
                  proxy-protocol:
                    trusted-networks: [127.0.0.3/32]
                """);
        try (NodeProcess node = NodeProcess.start(nodeDir, yaml, smtp)) {
            try {
                // 10 clients of 198.51.100.7 through the load balancer 127.0.0.3: all in
                for (int i = 0; i < 10; i++) {
                    assertEquals("220 " + HOST + " ESMTP",
                            proxied(open, smtp, "TCP4 198.51.100.7 127.0.0.1 " + (40000 + i) + " 25"),
                            "connection " + (i + 1) + " of 198.51.100.7");
                }
                // the 11th of that client is refused, with the client's address, not the balancer's
                assertEquals("421 4.7.0 " + HOST + " Error: too many connections from 198.51.100.7",
                        proxied(open, smtp, "TCP4 198.51.100.7 127.0.0.1 40100 25"));
                // another client behind the same balancer is not affected (the balancer holds 20+ now)
                for (int i = 0; i < 10; i++) {
                    assertEquals("220 " + HOST + " ESMTP",
                            proxied(open, smtp, "TCP4 198.51.100.8 127.0.0.1 " + (41000 + i) + " 25"),
                            "connection " + (i + 1) + " of 198.51.100.8");
                }
                // the balancer's own connections (health checks: PROXY UNKNOWN) are never limited
                for (int i = 0; i < 15; i++) {
                    assertEquals("220 " + HOST + " ESMTP", proxied(open, smtp, "UNKNOWN"),
                            "load balancer connection " + (i + 1));
                }
                // nor are mynetworks clients behind it
                for (int i = 0; i < 15; i++) {
                    assertEquals("220 " + HOST + " ESMTP",
                            proxied(open, smtp, "TCP4 127.0.0.1 127.0.0.1 " + (42000 + i) + " 25"),
                            "mynetworks connection " + (i + 1));
                }
                String log = node.mailLog();
                assertTrue(log.contains(
                        "warning: Connection concurrency limit exceeded: 11 from unknown[198.51.100.7]"), log);
            } finally {
                closeAll(open);
                node.keepLogs(Path.of("target", "firsthour-hostile-proxy"), "node.err", "mail.log");
            }
        }
    }

    /** Connects from the load balancer's address, sends a PROXY v1 header, returns the first reply line. */
    private static String proxied(List<Socket> open, int port, String header) throws IOException {
        Socket s = connect("127.0.0.3", port);
        open.add(s);
        s.getOutputStream().write(("PROXY " + header + "\r\n").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        return ServerLine.next(s);
    }

    private static Socket connect(String from, int port) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(from, 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(10_000);
        return s;
    }

    private static String probe(String from, int port) {
        try (Socket s = connect(from, port)) {
            return ServerLine.next(s);
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static void closeAll(List<Socket> sockets) {
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing: nothing to do
            }
        }
        sockets.clear();
    }

    @FunctionalInterface
    private interface Check {
        boolean holds() throws Exception;
    }

    private static void await(Check condition, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + timeout);
            }
            Thread.sleep(100);
        }
    }
}
