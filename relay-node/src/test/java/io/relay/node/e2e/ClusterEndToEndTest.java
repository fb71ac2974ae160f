package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.LoadClient;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three relay nodes on loopback, each its own JVM with its own SMTP, health and cluster
 * ports and spool, all naming each other in {@code cluster.members}, relaying to one
 * smtp-sink. Mail goes in on every node; nodes are killed (-9), stopped (SIGTERM),
 * frozen (SIGSTOP past the heartbeat timeout: a split brain) and every message that got
 * 250 must arrive. Each test prints sent / 250s / delivered / lost / duplicates. The fault
 * scenarios themselves are in {@link FaultScenarios}; {@link DeferredBacklogFaultTest} runs
 * them again with 100,000 deferred messages queued.
 */
class ClusterEndToEndTest {

    private final List<NodeProcess> nodes = new ArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final FaultScenarios scenarios = new FaultScenarios(nodes, pool, NodeProcess.defaultStartTimeout());

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
            List<LoadClient> load = scenarios.loadOnAll("each", 100, Duration.ofSeconds(60));
            assertEquals(300, FaultScenarios.acknowledged(load), "every node accepted its 100");
            KillNineTest.report("3 nodes, 100 accepted on each", load, sink, Duration.ofSeconds(90));
        }
    }

    @Test
    void killNineOfOneNodeUnderLoadLosesNothing(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        try (TaggedSink sink = TaggedSink.started(dir.resolve("sink"))) {
            startCluster(dir, sink.port(), "");
            scenarios.killNineOfOneUnderLoad(sink, "kill", KillNineTest.Nudge.NONE);
        }
    }

    @Test
    void killNineOfAllThreeWithUpstreamDownThenRestartDeliversEverything(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        try (TaggedSink sink = new TaggedSink(dir.resolve("sink"))) {
            startCluster(dir, sink.port(), "");
            scenarios.killNineOfAllWithMailQueued(sink, "all", KillNineTest.Nudge.NONE);
        }
    }

    @Test
    void gracefulStopHandsItsQueueToTheSurvivors(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        try (TaggedSink sink = new TaggedSink(dir.resolve("sink"))) {
            startCluster(dir, sink.port(), "");
            List<LoadClient> load = scenarios.loadOnAll("term", 100, Duration.ofSeconds(60));
            assertEquals(300, FaultScenarios.acknowledged(load), "every message got 250 while the upstream was down");
            NodeProcess leaving = nodes.get(1);
            scenarios.phase("300 accepted; SIGTERM to pid " + leaving.pid());
            leaving.signalTerm();
            assertEquals(0, leaving.awaitExit(Duration.ofSeconds(90)), "exit code after the drain");
            scenarios.phase("it exited 0");
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
            scenarios.splitBrainAndMerge(sink, "", KillNineTest.Nudge.NONE);
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
        nodes.addAll(scenarios.parallel(starts));
        scenarios.phase("three nodes listening");
        awaitMembers(nodes, 3, Duration.ofSeconds(90));
        scenarios.phase("cluster formed");
    }

    static String config(Path dir, int smtp, int sinkPort, int clusterPort, List<String> members, String extra) {
        return new NodeYaml(dir, smtp, Ports.free(), clusterPort).with(RelayYaml.relayingTo(sinkPort)
                .hostname(dir.getFileName() + ".relay.test").quickRetries().set("queue.delivery-concurrency", 8)
                .drain("0s", "10s").cluster("e2e", members).block("cluster", extra).text());
    }

    /** Waits until the last member count each node logged is {@code n}. */
    static void awaitMembers(List<NodeProcess> which, int n, Duration timeout) throws Exception {
        NodeProcess.awaitMembers(which, n, timeout);
    }
}
