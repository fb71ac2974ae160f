package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.HaproxyProcess;
import io.relay.node.testing.LoadClient;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rolling restart behind a real load balancer (issue 5 items 5 and 6): three cluster
 * nodes (PROXY protocol required) behind haproxy run from deploy/haproxy/haproxy.cfg, whose
 * HTTP checks of /readyz stand in for an NLB target group's. While a steady load goes
 * through haproxy's SMTP port, each node in turn gets SIGTERM, drains (readyz 503, haproxy
 * takes it out within inter × fall, shorter than health.drain-delay), exits 0, starts again
 * on the same ports and spool, and is back in rotation before the next one goes. The client
 * must see no failed and no refused transaction, every 250 must reach the upstream, and the
 * health checks must leave nothing in the mail logs.
 */
class RollingRestartTest {
    private static final Pattern SMTPD_CONNECT = Pattern.compile("/smtpd\\[\\d+\\]: connect from ");

    private final List<NodeProcess> nodes = new ArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final long t0 = System.nanoTime();
    private HaproxyProcess haproxy;

    private void phase(String what) {
        System.out.printf("[+%5.1fs] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }

    @AfterEach
    void stop(TestInfo test) throws InterruptedException {
        pool.shutdownNow();
        if (haproxy != null) {
            haproxy.close();
        }
        Path keep = Path.of("target", "rolling-restart", test.getTestMethod().orElseThrow().getName());
        for (NodeProcess n : nodes) {
            n.close();
            keepFiles(n.dir(), keep.resolve(n.dir().getFileName()), "node.err", "node.out", "mail.log", "relay.yaml");
        }
        if (haproxy != null) {
            keepFiles(nodes.get(0).dir().getParent().resolve("haproxy"), keep.resolve("haproxy"), "haproxy.cfg",
                    "haproxy.out");
        }
    }

    private static void keepFiles(Path from, Path to, String... names) {
        try {
            Files.createDirectories(to);
            for (String f : names) {
                if (Files.exists(from.resolve(f))) {
                    Files.copy(from.resolve(f), to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            System.out.println("could not keep " + from + ": " + e);
        }
    }

    @Test
    void rollingRestartBehindHaproxyFailsNoTransaction(@TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS) Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK, Tools.HAPROXY);
        try (TaggedSink sink = TaggedSink.started(dir.resolve("sink"))) {
            int[] smtp = {Ports.free(), Ports.free(), Ports.free()};
            int[] submission = {Ports.free(), Ports.free(), Ports.free()};
            int[] health = {Ports.free(), Ports.free(), Ports.free()};
            int[] cluster = {Ports.free(), Ports.free(), Ports.free()};
            List<String> members = List.of("127.0.0.1:" + cluster[0], "127.0.0.1:" + cluster[1],
                    "127.0.0.1:" + cluster[2]);
            List<Future<NodeProcess>> starts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Path nodeDir = dir.resolve("node" + i);
                String yaml = config(nodeDir, smtp[i], submission[i], health[i], cluster[i], members, sink.port());
                int port = smtp[i];
                starts.add(pool.submit(() -> NodeProcess.start(nodeDir, yaml, port)));
            }
            for (Future<NodeProcess> f : starts) {
                nodes.add(f.get());
            }
            ClusterEndToEndTest.awaitMembers(nodes, 3, Duration.ofSeconds(90));
            phase("cluster of three formed");

            int lbSmtp = Ports.free();
            int lbSubmission = Ports.free();
            Map<String, String> replace = new LinkedHashMap<>();
            replace.put("bind :25\n", "bind 127.0.0.1:" + lbSmtp + "\n");
            replace.put("bind :587\n", "bind 127.0.0.1:" + lbSubmission + "\n");
            for (int i = 0; i < 3; i++) {
                String host = "10.0." + (i + 1) + ".10";
                replace.put(host + ":25 check port 8080", "127.0.0.1:" + smtp[i] + " check port " + health[i]);
                replace.put(host + ":587 check port 8080", "127.0.0.1:" + submission[i] + " check port " + health[i]);
            }
            replace.put("inter 2s fall 2 rise 2", "inter 500ms fall 2 rise 2"); // keeps the test short
            haproxy = HaproxyProcess.start(dir.resolve("haproxy"), replace, lbSmtp, lbSubmission);
            haproxy.awaitStatus(servers(0, 1, 2), "UP", Duration.ofSeconds(30));
            phase("haproxy on " + lbSmtp + " sees three nodes UP");

            LoadClient client = new LoadClient("127.0.0.1", lbSmtp);
            AtomicBoolean restartsDone = new AtomicBoolean();
            Future<?> load = pool.submit(() -> {
                // rounds of 30 messages over 3 sessions of at most 5 each: steady, bounded load
                long end = System.nanoTime() + Duration.ofSeconds(150).toNanos();
                for (int round = 0; round < 400 && !restartsDone.get() && System.nanoTime() < end; round++) {
                    client.run("roll" + round, 30, 3, 5, 1024, Duration.ofSeconds(60));
                    Thread.sleep(100);
                }
                return null;
            });
            awaitAcknowledged(client, 100, Duration.ofSeconds(60));
            phase(client.acknowledged().size() + " acknowledged through haproxy; rolling restart begins");

            List<String> restarts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                NodeProcess n = nodes.get(i);
                int ackedBefore = client.acknowledged().size();
                long term = System.nanoTime();
                n.signalTerm();
                Duration down = haproxy.awaitStatus(servers(i), "DOWN", Duration.ofSeconds(30));
                int exit = n.awaitExit(Duration.ofSeconds(90));
                double exited = (System.nanoTime() - term) / 1e9;
                assertEquals(0, exit, "exit code of node" + i + " after SIGTERM");
                n.restart();
                ClusterEndToEndTest.awaitMembers(nodes, 3, Duration.ofSeconds(90));
                Duration up = haproxy.awaitStatus(servers(i), "UP", Duration.ofSeconds(60));
                awaitAcknowledged(client, client.acknowledged().size() + 30, Duration.ofSeconds(30));
                String line = String.format("node%d: haproxy DOWN %.1fs after SIGTERM, exit 0 after %.1fs, back UP "
                        + "%.1fs after its restart; %d messages acknowledged meanwhile", i, down.toMillis() / 1e3,
                        exited, up.toMillis() / 1e3, client.acknowledged().size() - ackedBefore);
                restarts.add(line);
                phase(line);
            }
            restartsDone.set(true);
            load.get(90, TimeUnit.SECONDS);
            phase("load done");

            int failed = client.failed().size();
            int refused = client.refused().size();
            System.out.printf("rolling restart client: sent=%d, 250s=%d, refused=%d, failed=%d, sessions=%d%n",
                    client.sent(), client.acknowledged().size(), refused, failed, client.greetedSessions());
            KillNineTest.report("rolling restart of 3 nodes behind haproxy", client, sink, Duration.ofSeconds(120));

            int connects = 0;
            List<String> healthLines = new ArrayList<>();
            Pattern healthMention = healthMention(health);
            for (NodeProcess n : nodes) {
                for (String l : Files.readAllLines(n.dir().resolve("mail.log"))) {
                    if (SMTPD_CONNECT.matcher(l).find()) {
                        connects++;
                    }
                    if (healthMention.matcher(l).find()) {
                        healthLines.add(l);
                    }
                }
            }
            System.out.printf("rolling restart mail logs: %d 'connect from' for %d client sessions; "
                    + "health-check lines: %d%n", connects, client.greetedSessions(), healthLines.size()
                    + Math.max(0, connects - client.greetedSessions()));
            restarts.forEach(System.out::println);

            assertEquals(0, failed, () -> "failed transactions, e.g. " + client.failed().stream().limit(5).toList());
            assertEquals(0, refused, () -> "refused transactions, e.g. " + client.refused().stream().limit(5).toList());
            assertEquals(client.sent(), client.acknowledged().size(), "every message sent got 250");
            assertTrue(healthLines.isEmpty(), () -> "health checks in the mail log: " + healthLines);
            assertEquals(client.greetedSessions(), connects,
                    "one SMTP 'connect from' per client session, none from haproxy's checks");
        }
    }

    /** Both backends' entries for the given node indexes, as {@code backend/server}. */
    private static List<String> servers(int... indexes) {
        List<String> out = new ArrayList<>();
        for (int i : indexes) {
            out.add("relay_smtp/relay" + (i + 1));
            out.add("relay_submission/relay" + (i + 1));
        }
        return out;
    }

    /** A mail log line that names a health endpoint or one of the health ports. */
    private static Pattern healthMention(int[] healthPorts) {
        StringBuilder ports = new StringBuilder();
        for (int p : healthPorts) {
            ports.append(ports.isEmpty() ? "" : "|").append(p);
        }
        return Pattern.compile("readyz|healthz|HTTP/1|[:\\[](?:" + ports + ")\\b");
    }

    private static void awaitAcknowledged(LoadClient client, int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (client.acknowledged().size() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("only " + client.acknowledged().size() + " of " + n
                        + " acknowledged within " + timeout);
            }
            Thread.sleep(50);
        }
    }

    private static String config(Path dir, int smtp, int submission, int health, int clusterPort, List<String> members,
            int sinkPort) {
        return """
                smtpd:
                  listen: ["127.0.0.1:%d", "127.0.0.1:%d"]
                  hostname: %s.relay.test
                  mynetworks: [127.0.0.0/8]
                  proxy-protocol:
                    trusted-networks: [127.0.0.0/8]
                    required: true
                smtp:
                  default-transport: smtp
                  relayhost: "[127.0.0.1]:%d"
                  tls-security-level: none
                queue:
                  spool-dir: %s
                  minimal-backoff-time: 1s
                  maximal-backoff-time: 2s
                  delivery-concurrency: 8
                health:
                  listen: 127.0.0.1:%d
                  drain-delay: 5s
                  drain-timeout: 30s
                cluster:
                  name: rolling
                  listen: 127.0.0.1:%d
                  members: [%s]
                log:
                  file: %s
                """.formatted(smtp, submission, dir.getFileName(), sinkPort, dir.resolve("spool"), health, clusterPort,
                String.join(", ", members), dir.resolve("mail.log"));
    }
}
