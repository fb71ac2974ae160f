package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node's reaction to its upstreams, end to end with a node in its own JVM: a dead next
 * hop (every connection greeted with 421) is suspended by its circuit breaker after a few
 * connection attempts while mail to a healthy next hop flows on; an upstream that answers
 * SES's 454 throttling reply pauses the lane, and nothing is bounced.
 */
class UpstreamReactionTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    /** A next hop that is down: accepts, greets with 421 and hangs up, counting the connections. */
    private static final class DeadHop implements AutoCloseable {
        final ServerSocket server;
        final AtomicInteger connections = new AtomicInteger();
        final Thread acceptor;

        DeadHop() throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            acceptor = new Thread(() -> {
                while (!server.isClosed()) {
                    try (Socket s = server.accept()) {
                        connections.incrementAndGet();
                        s.getOutputStream().write("421 4.3.2 dead.test Service not available, try later\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                        s.getOutputStream().flush();
                    } catch (IOException e) {
                        // closed at the end of the test, or the client hung up first
                    }
                }
            }, "dead-hop");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    /** One SMTP session into the node, sending tagged messages one after another. */
    private static final class Injector implements AutoCloseable {
        final Socket socket = new Socket();
        final BufferedReader in;
        final OutputStream out;

        Injector(int port) throws IOException {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            socket.setSoTimeout(30_000);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            out = socket.getOutputStream();
            expect("220");
            command("EHLO app.test", "250");
        }

        void send(String rcpt, String tag) throws IOException {
            command("MAIL FROM:<app@app.test>", "250");
            command("RCPT TO:<" + rcpt + ">", "250");
            command("DATA", "354");
            command("From: app@app.test\r\nTo: " + rcpt + "\r\nSubject: " + tag + "\r\nX-Test-Tag: " + tag
                    + "\r\n\r\nbody of " + tag + "\r\n.", "250");
        }

        private void command(String line, String code) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            expect(code);
        }

        private void expect(String code) throws IOException {
            String line;
            do {
                line = in.readLine();
                if (line == null) {
                    throw new IOException("connection closed");
                }
            } while (line.length() > 3 && line.charAt(3) == '-');
            if (!line.startsWith(code)) {
                throw new IOException("expected " + code + ", got " + line);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static String nodeConfig(Path dir, int smtp, int health, String smtpSection) {
        return new NodeYaml(dir, smtp, health, Ports.free()).with("""
                smtpd:
                  hostname: relay-under-test.test
                  mynetworks: [127.0.0.0/8]
                smtp:
                  default-transport: smtp
                  tls-security-level: none
                %s
                queue:
                  minimal-backoff-time: 1s
                  maximal-backoff-time: 2s
                """.formatted(smtpSection.indent(2).stripTrailing()));
    }

    @Test
    void aDeadNextHopIsSuspendedAfterAFewConnectionsWhileTheOtherNextHopFlows(@TempDir Path dir) throws Exception {
        try (DeadHop dead = new DeadHop(); TaggedSink live = TaggedSink.started(dir)) {
            int smtp = Ports.free();
            int health = Ports.free();
            String yaml = nodeConfig(dir.resolve("node"), smtp, health, """
                    transports:
                      dead:
                        fallback-relay: []
                      live:
                        concurrency: 10
                    transport-maps:
                      dead.example: "dead:[127.0.0.1]:%d"
                      live.example: "live:[127.0.0.1]:%d"
                    breaker:
                      failure-threshold: 5
                      open-time: 120s
                      connect-retries: 2""".formatted(dead.port(), live.port()));
            String deadHop = "[127.0.0.1]:" + dead.port();
            try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp)) {
                Set<String> liveTags = new TreeSet<>();
                try (Injector client = new Injector(smtp)) {
                    for (int i = 0; i < 30; i++) {
                        client.send("user" + i + "@dead.example", "dead-" + i);
                        client.send("user" + i + "@live.example", "live-" + i);
                        liveTags.add("live-" + i);
                    }
                }
                Path mailLog = dir.resolve("node/mail.log");
                await(() -> live.tags().keySet().containsAll(liveTags), BOUND);
                Map<String, Integer> arrived = live.tags();
                assertTrue(arrived.keySet().containsAll(liveTags), "every message to the live hop arrives: " + arrived);
                assertTrue(arrived.keySet().stream().noneMatch(t -> t.startsWith("dead-")), arrived.toString());

                // Every message to the dead hop gets tried again by the queue (backoff 1-2 s): each
                // try after the breaker opened is a suspension without a connection.
                String suspended = "relay=none, delay=";
                await(() -> suspensions(mailLog) >= 60, BOUND);
                int connections = dead.connections.get();
                String log = Files.readString(mailLog);
                System.out.printf("dead hop: %d connections, %d suspended deferrals; live hop: %d/30 arrived%n",
                        connections, suspensions(mailLog), liveTags.size());
                assertTrue(suspensions(mailLog) >= 60, log);
                assertTrue(connections >= 5 && connections <= 12,
                        "connections to the dead hop stay near threshold + retries: " + connections);
                assertTrue(log.contains("dsn=4.3.2, status=deferred (delivery temporarily suspended: host 127.0.0.1"
                        + "[127.0.0.1] said: 421 4.3.2 dead.test Service not available, try later (in reply to "
                        + "initial server greeting))"), log);
                assertTrue(log.lines().filter(l -> l.contains("delivery temporarily suspended"))
                        .allMatch(l -> l.contains(suspended)), "suspensions do not connect: relay=none");
                assertEquals(0, count(log, "status=bounced"), log);
                assertEquals(30, log.lines().filter(l -> l.contains("@live.example") && l.contains("status=sent"))
                        .count(), log);

                String appLog = node.stderr();
                assertEquals(1, count(appLog, "next hop " + deadHop + ": circuit open after"), appLog);
                assertTrue(appLog.contains("next probe in 120s"), appLog);
                assertEquals(0, count(appLog, "next hop [127.0.0.1]:" + live.port() + ": circuit open"), appLog);

                String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + health + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                assertTrue(metrics.contains("relay_circuit_breaker_state{nexthop=\"" + deadHop + "\",state=\"open\"} 1"),
                        metrics.lines().filter(l -> l.contains("breaker")).toList().toString());

                // No new connection while open (open-time 120 s outlasts the test).
                assertEquals(connections, dead.connections.get());
            }
        }
    }

    @Test
    void throttlingRepliesPauseTheLaneAndEveryMessageArrivesLater(@TempDir Path dir) throws Exception {
        Tools.requirePythonModule("aiosmtpd");
        Files.createDirectories(dir.resolve("up"));
        try (AiosmtpdUpstream ses = AiosmtpdUpstream.builder(dir.resolve("up")).throttleFirst(4).start()) {
            int smtp = Ports.free();
            String yaml = nodeConfig(dir.resolve("node"), smtp, Ports.free(), """
                    transports:
                      ses:
                        concurrency: 5
                    transport-maps:
                      example.com: "ses:[127.0.0.1]:%d\"""".formatted(ses.port()));
            try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp)) {
                Path mailLog = dir.resolve("node/mail.log");
                List<String> tags = new ArrayList<>();
                // 20 messages, 50 ms apart: the first transactions get 454 and pause the lane.
                try (Injector client = new Injector(smtp)) {
                    for (int i = 0; i < 20; i++) {
                        String tag = "ses-" + tags.size();
                        client.send("user" + tags.size() + "@example.com", tag);
                        tags.add(tag);
                        Thread.sleep(50);
                    }
                }
                await(() -> arrivedTags(ses).containsAll(tags), BOUND);
                String log = Files.readString(mailLog);
                System.out.printf("throttling: %d messages, %d throttled transactions, %d deferred lines%n",
                        tags.size(), ses.throttledTransactions(), count(log, "status=deferred"));
                assertTrue(arrivedTags(ses).containsAll(tags), "all arrive after the pauses: " + arrivedTags(ses));
                assertEquals(4, ses.throttledTransactions());
                assertTrue(log.contains("status=deferred (host 127.0.0.1[127.0.0.1] said: 454 4.7.0 Throttling failure: "
                        + "Maximum sending rate exceeded. (in reply to MAIL FROM command))"), log);
                // Mail held while the lane is paused is not tried, so it burns no attempt and, as
                // in Postfix's active queue, writes no log line: only the 454 replies are deferrals.
                assertEquals(0, count(log, "delivery temporarily paused"), log);
                assertEquals(4, count(log, "status=deferred"), log);
                assertEquals(0, count(log, "status=bounced"), log);
                assertEquals(tags.size(), count(log, "status=sent"), log);
                assertTrue(node.stderr().contains("upstream answered 454 (throttling); pausing 1000 ms"), node.stderr());
            }
        }
    }

    private static Set<String> arrivedTags(AiosmtpdUpstream up) throws IOException {
        Set<String> out = new TreeSet<>();
        for (AiosmtpdUpstream.Received r : up.messages()) {
            r.text().lines().filter(l -> l.startsWith("X-Test-Tag: ")).forEach(l -> out.add(l.substring(12).trim()));
        }
        return out;
    }

    private static int suspensions(Path mailLog) throws IOException {
        return count(Files.readString(mailLog), "delivery temporarily suspended");
    }

    private static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length())) {
            n++;
        }
        return n;
    }

    private static void await(IoCondition condition, Duration timeout) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (!condition.met() && System.nanoTime() < end) {
            Thread.sleep(100);
        }
    }

    @FunctionalInterface
    private interface IoCondition {
        boolean met() throws IOException;
    }
}
