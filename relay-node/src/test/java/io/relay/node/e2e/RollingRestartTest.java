package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.HaproxyProcess;
import io.relay.node.testing.LoadClient;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
    private final FaultScenarios scenarios = new FaultScenarios(nodes, pool, NodeProcess.defaultStartTimeout());
    private HaproxyProcess haproxy;

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
            scenarios.phase("cluster of three formed");

            int lbSmtp = Ports.free();
            haproxy = FaultScenarios.haproxy(dir.resolve("haproxy"), lbSmtp, Ports.free(), smtp, submission, health);
            scenarios.phase("haproxy on " + lbSmtp + " sees three nodes UP");

            FaultScenarios.Rolling rolling = scenarios.rollingRestart(haproxy, lbSmtp, sink, "roll",
                    KillNineTest.Nudge.NONE);
            LoadClient client = rolling.client();

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
            rolling.restarts().forEach(System.out::println);

            assertTrue(healthLines.isEmpty(), () -> "health checks in the mail log: " + healthLines);
            assertEquals(client.greetedSessions(), connects,
                    "one SMTP 'connect from' per client session, none from haproxy's checks");
        }
    }

    /** A mail log line that names a health endpoint or one of the health ports. */
    private static Pattern healthMention(int[] healthPorts) {
        StringBuilder ports = new StringBuilder();
        for (int p : healthPorts) {
            ports.append(ports.isEmpty() ? "" : "|").append(p);
        }
        return Pattern.compile("readyz|healthz|HTTP/1|[:\\[](?:" + ports + ")\\b");
    }

    private static String config(Path dir, int smtp, int submission, int health, int clusterPort, List<String> members,
            int sinkPort) {
        return new NodeYaml(dir, smtp, health, clusterPort).with(RelayYaml.relayingTo(sinkPort).listen(smtp, submission)
                .hostname(dir.getFileName() + ".relay.test").proxyProtocol(true).quickRetries()
                .set("queue.delivery-concurrency", 8).drain("5s", "30s").cluster("rolling", members).text());
    }
}
