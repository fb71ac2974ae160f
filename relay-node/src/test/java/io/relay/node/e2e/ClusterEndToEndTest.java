package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.LoadClient;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three relay nodes on loopback, each its own JVM with its own SMTP, health and cluster
 * ports and spool, all naming each other in {@code cluster.members}, relaying to one
 * smtp-sink. Mail goes in on every node; nodes are killed (-9), stopped (SIGTERM),
 * frozen (SIGSTOP past the heartbeat timeout: a split brain) and every message that got
 * 250 must arrive. Each test prints sent / 250s / delivered / lost / duplicates.
 */
class ClusterEndToEndTest {

    private final List<NodeProcess> nodes = new ArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final long t0 = System.nanoTime();

    /** Prints how far into the test a step came, so the surefire report shows where time goes. */
    private void phase(String what) {
        System.out.printf("[+%5.1fs] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }

    /** Stops what is left and keeps each node's diagnostics and mail log in target/cluster-e2e/TEST/. */
    @AfterEach
    void stopNodes(TestInfo test) throws InterruptedException {
        pool.shutdownNow();
        for (NodeProcess n : nodes) {
            n.close();
            n.keepLogs(Path.of("target", "cluster-e2e", test.getTestMethod().orElseThrow().getName(),
                    n.dir().getFileName().toString()), "node.err", "node.out", "mail.log");
        }
    }

    @Test
    void mailAcceptedOnEachNodeIsDelivered(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        try (TaggedSink sink = TaggedSink.started(dir.resolve("sink"))) {
            startCluster(dir, sink.port(), "");
            List<LoadClient> load = loadOnAll("each", 100, Duration.ofSeconds(60));
            assertEquals(300, acknowledged(load), "every node accepted its 100");
            KillNineTest.report("3 nodes, 100 accepted on each", load, sink, Duration.ofSeconds(90));
        }
    }

    @Test
    void killNineOfOneNodeUnderLoadLosesNothing(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        try (TaggedSink sink = TaggedSink.started(dir.resolve("sink"))) {
            startCluster(dir, sink.port(), "");
            List<LoadClient> clients = new ArrayList<>();
            List<Future<?>> loaders = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                LoadClient c = new LoadClient("127.0.0.1", nodes.get(i).smtpPort());
                String prefix = "kill" + i;
                clients.add(c);
                loaders.add(pool.submit(run(() -> c.run(prefix, 1000, 4, 20, 1024, Duration.ofSeconds(120)))));
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (acknowledged(clients) < 1000 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            int ackedAtKill = acknowledged(clients);
            NodeProcess victim = nodes.get(2);
            victim.kill9();
            clients.get(2).stop(); // its clients only see broken connections now
            awaitMembers(nodes.subList(0, 2), 2, Duration.ofSeconds(60));
            for (Future<?> f : loaders) {
                f.get();
            }
            KillNineTest.report("3 nodes, kill -9 of one after " + ackedAtKill + " 250s, not restarted",
                    clients, sink, Duration.ofSeconds(120));
            assertTrue(ackedAtKill >= 1000, "the kill came under load: " + ackedAtKill);
            assertTrue(clients.get(0).acknowledged().size() + clients.get(1).acknowledged().size() >= 1500,
                    "the survivors went on accepting");
        }
    }

    @Test
    void killNineOfAllThreeWithUpstreamDownThenRestartDeliversEverything(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        try (TaggedSink sink = new TaggedSink(dir.resolve("sink"))) {
            startCluster(dir, sink.port(), "");
            List<LoadClient> load = loadOnAll("all", 200, Duration.ofSeconds(90));
            assertEquals(600, acknowledged(load), "every message got 250 while the upstream was down");
            phase("600 accepted");
            for (NodeProcess n : nodes) {
                n.kill9();
            }
            sink.start();
            parallel(nodes.stream().map(n -> (Callable<Object>) () -> {
                n.restart();
                return null;
            }).toList());
            phase("all three restarted");
            KillNineTest.report("3 nodes, 600 queued, kill -9 of all three, restart", load, sink,
                    Duration.ofSeconds(120));
        }
    }

    @Test
    void gracefulStopHandsItsQueueToTheSurvivors(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        try (TaggedSink sink = new TaggedSink(dir.resolve("sink"))) {
            startCluster(dir, sink.port(), "");
            List<LoadClient> load = loadOnAll("term", 100, Duration.ofSeconds(60));
            assertEquals(300, acknowledged(load), "every message got 250 while the upstream was down");
            NodeProcess leaving = nodes.get(1);
            phase("300 accepted; SIGTERM to pid " + leaving.pid());
            leaving.signalTerm();
            assertEquals(0, leaving.awaitExit(Duration.ofSeconds(90)), "exit code after the drain");
            phase("it exited 0");
            awaitMembers(List.of(nodes.get(0), nodes.get(2)), 2, Duration.ofSeconds(30));
            assertTrue(nodes.get(0).alive() && nodes.get(2).alive(), "the two others still run");
            sink.start();
            KillNineTest.report("3 nodes, 300 queued, SIGTERM of one, then upstream up", load, sink,
                    Duration.ofSeconds(120));
        }
    }

    @Test
    void splitBrainHealsWithoutLoss(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        try (TaggedSink sink = new TaggedSink(dir.resolve("sink"))) {
            startCluster(dir, sink.port(), """
                    heartbeat-timeout: 5s
                    merge-delay: 5s""");
            NodeProcess frozen = nodes.get(2);
            LoadClient before = new LoadClient("127.0.0.1", frozen.smtpPort());
            before.run("before", 100, 4, 25, 1024, Duration.ofSeconds(60));
            assertEquals(100, before.acknowledged().size(), "the node to be frozen accepted its 100");

            frozen.suspend();
            sink.start(); // the survivors deliver everything, the frozen node's partitions from backups
            List<LoadClient> during = List.of(new LoadClient("127.0.0.1", nodes.get(0).smtpPort()),
                    new LoadClient("127.0.0.1", nodes.get(1).smtpPort()));
            List<Future<?>> loaders = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                LoadClient c = during.get(i);
                String prefix = "split" + i;
                loaders.add(pool.submit(run(() -> c.run(prefix, 300, 4, 20, 1024, Duration.ofSeconds(90)))));
            }
            awaitMembers(nodes.subList(0, 2), 2, Duration.ofSeconds(60));
            for (Future<?> f : loaders) {
                f.get();
            }
            frozen.resume();
            awaitLog(frozen, "split-brain merge: MERGED", Duration.ofSeconds(90));
            awaitMembers(nodes, 3, Duration.ofSeconds(60));

            LoadClient after = new LoadClient("127.0.0.1", frozen.smtpPort());
            after.run("after", 50, 2, 25, 1024, Duration.ofSeconds(60));
            KillNineTest.report("3 nodes, SIGSTOP of one past the heartbeat timeout, load on two, SIGCONT, merge",
                    List.of(before, during.get(0), during.get(1), after), sink, Duration.ofSeconds(120));
            assertEquals(600, during.get(0).acknowledged().size() + during.get(1).acknowledged().size(),
                    "the two survivors accepted while the third was frozen");
        }
    }

    /** Starts three nodes in parallel, all naming each other, and waits until each sees three members. */
    private void startCluster(Path dir, int sinkPort, String clusterExtra) throws Exception {
        int[] smtp = {Ports.free(), Ports.free(), Ports.free()};
        int[] clusterPorts = {Ports.free(), Ports.free(), Ports.free()};
        List<String> members = List.of("127.0.0.1:" + clusterPorts[0], "127.0.0.1:" + clusterPorts[1],
                "127.0.0.1:" + clusterPorts[2]);
        List<Callable<NodeProcess>> starts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Path nodeDir = dir.resolve("node" + i);
            String yaml = config(nodeDir, smtp[i], sinkPort, clusterPorts[i], members, clusterExtra);
            int port = smtp[i];
            starts.add(() -> NodeProcess.start(nodeDir, yaml, port));
        }
        nodes.addAll(parallel(starts));
        phase("three nodes listening");
        awaitMembers(nodes, 3, Duration.ofSeconds(90));
        phase("cluster formed");
    }

    static String config(Path dir, int smtp, int sinkPort, int clusterPort, List<String> members, String extra) {
        return """
                smtpd:
                  listen: ["127.0.0.1:%d"]
                  hostname: %s.relay.test
                  mynetworks: [127.0.0.0/8]
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
                  drain-delay: 0s
                  drain-timeout: 10s
                cluster:
                  name: e2e
                  listen: 127.0.0.1:%d
                  members: [%s]
                %s
                log:
                  file: %s
                """.formatted(smtp, dir.getFileName(), sinkPort, dir.resolve("spool"), Ports.free(), clusterPort,
                String.join(", ", members), extra.indent(2).stripTrailing(), dir.resolve("mail.log"));
    }

    /** {@code perNode} messages into each node at once; returns the three clients. */
    private List<LoadClient> loadOnAll(String prefix, int perNode, Duration deadline) throws Exception {
        List<LoadClient> clients = new ArrayList<>();
        List<Callable<Object>> runs = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            LoadClient c = new LoadClient("127.0.0.1", nodes.get(i).smtpPort());
            String tagPrefix = prefix + i;
            clients.add(c);
            runs.add(() -> {
                c.run(tagPrefix, perNode, 4, 25, 1024, deadline);
                return null;
            });
        }
        parallel(runs);
        return clients;
    }

    private static int acknowledged(List<LoadClient> clients) {
        return clients.stream().mapToInt(c -> c.acknowledged().size()).sum();
    }

    private <T> List<T> parallel(List<Callable<T>> tasks) throws Exception {
        List<Future<T>> futures = new ArrayList<>();
        for (Callable<T> t : tasks) {
            futures.add(pool.submit(t));
        }
        List<T> out = new ArrayList<>();
        for (Future<T> f : futures) {
            out.add(f.get());
        }
        return out;
    }

    private interface Load {
        void run() throws Exception;
    }

    private static Callable<Object> run(Load load) {
        return () -> {
            load.run();
            return null;
        };
    }

    /** Waits until the last member count each node logged is {@code n}. */
    static void awaitMembers(List<NodeProcess> which, int n, Duration timeout) throws Exception {
        NodeProcess.awaitMembers(which, n, timeout);
    }

    private static void awaitLog(NodeProcess node, String text, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!node.stderr().contains(text)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no '" + text + "' in " + node.dir() + "/node.err within " + timeout
                        + "; tail:\n" + NodeProcess.tail(node.dir().resolve("node.err"), 20));
            }
            Thread.sleep(200);
        }
    }
}
