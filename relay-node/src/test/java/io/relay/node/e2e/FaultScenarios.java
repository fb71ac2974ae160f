package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.HaproxyProcess;
import io.relay.node.testing.LoadClient;
import io.relay.node.testing.NodeProcess;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The fault scenarios of the cluster tests, each run on a formed cluster of three nodes
 * (each its own JVM) relaying to a {@link TaggedSink}, with its own counted live load: SIGKILL
 * of one node under load, a split brain (SIGSTOP past the heartbeat timeout) and its merge,
 * SIGKILL of all three with mail queued, and a rolling restart behind haproxy. Every message
 * that got 250 must arrive; each prints sent / 250s / delivered / lost / duplicates and
 * answers the counts. {@link ClusterEndToEndTest} and {@link RollingRestartTest} run each on
 * a fresh cluster, {@link DeferredBacklogFaultTest} runs them one after the other on one
 * cluster that holds 100,000 deferred messages.
 *
 * <p>Where the live upstream comes back during a scenario, it calls the given
 * {@link KillNineTest.Nudge} (a flush of the live next hop under a long backoff; nothing
 * otherwise). Settings: {@code startTimeout}, how long a restarted node may take to listen
 * again (its spool replay comes first).
 */
final class FaultScenarios {
    private final List<NodeProcess> nodes;
    private final ExecutorService pool;
    private final long t0 = System.nanoTime();
    private final Duration startTimeout;

    FaultScenarios(List<NodeProcess> nodes, ExecutorService pool, Duration startTimeout) {
        this.nodes = nodes;
        this.pool = pool;
        this.startTimeout = startTimeout;
    }

    /** Prints how far into the test a step came, so the surefire report shows where time goes. */
    void phase(String what) {
        System.out.printf("[+%5.1fs] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }

    /**
     * Load on all three nodes; node 2 gets SIGKILL after 1000 250s and is not restarted here;
     * every 250 must arrive (the sink is up).
     */
    KillNineTest.Counts killNineOfOneUnderLoad(TaggedSink sink, String prefix, KillNineTest.Nudge flush)
            throws Exception {
        List<LoadClient> clients = new ArrayList<>();
        List<Future<?>> loaders = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            LoadClient c = new LoadClient("127.0.0.1", nodes.get(i).smtpPort());
            String tagPrefix = prefix + i;
            clients.add(c);
            loaders.add(pool.submit(run(() -> c.run(tagPrefix, 1000, 4, 20, 1024, Duration.ofSeconds(120)))));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (acknowledged(clients) < 1000 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        int ackedAtKill = acknowledged(clients);
        NodeProcess victim = nodes.get(2);
        victim.kill9();
        phase("kill -9 of node2 after " + ackedAtKill + " 250s");
        clients.get(2).stop(); // its clients only see broken connections now
        NodeProcess.awaitMembers(nodes.subList(0, 2), 2, Duration.ofSeconds(60));
        for (Future<?> f : loaders) {
            f.get();
        }
        KillNineTest.Counts counts = KillNineTest.report("3 nodes, kill -9 of one after " + ackedAtKill
                + " 250s, not restarted", clients, sink, Duration.ofSeconds(120), flush);
        assertTrue(ackedAtKill >= 1000, "the kill came under load: " + ackedAtKill);
        assertTrue(clients.get(0).acknowledged().size() + clients.get(1).acknowledged().size() >= 1500,
                () -> "the survivors went on accepting; what their clients saw: " + clients.get(0).errors() + " "
                        + clients.get(1).errors());
        return counts;
    }

    /**
     * With the sink down, 200 messages into each node; SIGKILL of all three, the sink starts,
     * all three start again on their spools; every 250 must arrive.
     */
    KillNineTest.Counts killNineOfAllWithMailQueued(TaggedSink sink, String prefix, KillNineTest.Nudge flush)
            throws Exception {
        List<LoadClient> load = loadOnAll(prefix, 200, Duration.ofSeconds(90));
        assertEquals(600, acknowledged(load), () -> "every message got 250 while the upstream was down; the clients "
                + "saw: " + load.stream().map(LoadClient::errors).toList());
        phase("600 accepted");
        for (NodeProcess n : nodes) {
            n.kill9();
        }
        sink.start();
        List<Double> listening = parallel(nodes.stream().map(n -> (Callable<Double>) () -> restart(n)).toList());
        phase("all three restarted; each listened again after " + seconds(listening));
        return KillNineTest.report("3 nodes, 600 queued, kill -9 of all three, restart", load, sink,
                Duration.ofSeconds(120), flush);
    }

    /**
     * With the sink down, 100 messages into node 2, which is then frozen (SIGSTOP) past the
     * heartbeat timeout; the sink starts and the two survivors take 600 while it is gone;
     * SIGCONT, the split-brain merge, 50 more into node 2; every 250 must arrive. Needs a
     * cluster with a short heartbeat timeout and merge delay.
     */
    KillNineTest.Counts splitBrainAndMerge(TaggedSink sink, String prefix, KillNineTest.Nudge flush)
            throws Exception {
        NodeProcess frozen = nodes.get(2);
        LoadClient before = new LoadClient("127.0.0.1", frozen.smtpPort());
        before.run(prefix + "before", 100, 4, 25, 1024, Duration.ofSeconds(60));
        assertEquals(100, before.acknowledged().size(),
                () -> "the node to be frozen accepted its 100; its client saw: " + before.errors());

        int mergesBefore = count(frozen.stderr(), "split-brain merge: MERGED");
        frozen.suspend();
        phase("node2 frozen (SIGSTOP)");
        sink.start(); // the survivors deliver everything, the frozen node's partitions from backups
        List<LoadClient> during = List.of(new LoadClient("127.0.0.1", nodes.get(0).smtpPort()),
                new LoadClient("127.0.0.1", nodes.get(1).smtpPort()));
        List<Future<?>> loaders = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            LoadClient c = during.get(i);
            String tagPrefix = prefix + "split" + i;
            loaders.add(pool.submit(run(() -> c.run(tagPrefix, 300, 4, 20, 1024, Duration.ofSeconds(90)))));
        }
        NodeProcess.awaitMembers(nodes.subList(0, 2), 2, Duration.ofSeconds(60));
        phase("the two survivors see 2 members");
        flush.run(); // the upstream is back: what waits for it on the survivors' side goes now
        for (Future<?> f : loaders) {
            f.get();
        }
        frozen.resume();
        phase("node2 resumed (SIGCONT)");
        awaitLogCount(frozen, "split-brain merge: MERGED", mergesBefore + 1, Duration.ofSeconds(90));
        NodeProcess.awaitMembers(nodes, 3, Duration.ofSeconds(60));
        phase("merged: three members");

        LoadClient after = new LoadClient("127.0.0.1", frozen.smtpPort());
        after.run(prefix + "after", 50, 2, 25, 1024, Duration.ofSeconds(60));
        KillNineTest.Counts counts = KillNineTest.report(
                "3 nodes, SIGSTOP of one past the heartbeat timeout, load on two, SIGCONT, merge",
                List.of(before, during.get(0), during.get(1), after), sink, Duration.ofSeconds(120), flush);
        assertEquals(600, during.get(0).acknowledged().size() + during.get(1).acknowledged().size(),
                () -> "the two survivors accepted while the third was frozen; what their clients saw: "
                        + during.get(0).errors() + " " + during.get(1).errors());
        return counts;
    }

    /** What a rolling restart left: the client (its failed and refused transactions), one line per node, the counts. */
    record Rolling(LoadClient client, List<String> restarts, KillNineTest.Counts counts) {
    }

    /**
     * A steady load through haproxy's SMTP port on {@code lbSmtp} while each node in turn gets
     * SIGTERM, drains (haproxy marks it DOWN), exits 0, starts again on its spool and is back
     * UP before the next one goes; every 250 must arrive, and the client must see no failed
     * and no refused transaction.
     */
    Rolling rollingRestart(HaproxyProcess haproxy, int lbSmtp, TaggedSink sink, String prefix,
            KillNineTest.Nudge flush) throws Exception {
        LoadClient client = new LoadClient("127.0.0.1", lbSmtp);
        AtomicBoolean restartsDone = new AtomicBoolean();
        Future<?> load = pool.submit(() -> {
            // rounds of 30 messages over 3 sessions of at most 5 each: steady, bounded load
            long end = System.nanoTime() + Duration.ofSeconds(150).plus(startTimeout.multipliedBy(3)).toNanos();
            for (int round = 0; round < 1000 && !restartsDone.get() && System.nanoTime() < end; round++) {
                client.run(prefix + round, 30, 3, 5, 1024, Duration.ofSeconds(60));
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
            double listening = restart(n);
            NodeProcess.awaitMembers(nodes, 3, Duration.ofSeconds(90));
            Duration up = haproxy.awaitStatus(servers(i), "UP", Duration.ofSeconds(60));
            awaitAcknowledged(client, client.acknowledged().size() + 30, Duration.ofSeconds(30));
            String line = String.format("node%d: haproxy DOWN %.1fs after SIGTERM, exit 0 after %.1fs, listening "
                    + "%.1fs and back UP %.1fs after its restart; %d messages acknowledged meanwhile", i,
                    down.toMillis() / 1e3, exited, listening, up.toMillis() / 1e3,
                    client.acknowledged().size() - ackedBefore);
            restarts.add(line);
            phase(line);
        }
        restartsDone.set(true);
        load.get(90, TimeUnit.SECONDS);
        phase("load done");

        System.out.printf("rolling restart client: sent=%d, 250s=%d, refused=%d, failed=%d, sessions=%d%n",
                client.sent(), client.acknowledged().size(), client.refused().size(), client.failed().size(),
                client.greetedSessions());
        KillNineTest.Counts counts = KillNineTest.report("rolling restart of 3 nodes behind haproxy", List.of(client),
                sink, Duration.ofSeconds(120), flush);
        assertEquals(0, client.failed().size(),
                () -> "failed transactions, e.g. " + client.failed().stream().limit(5).toList());
        assertEquals(0, client.refused().size(),
                () -> "refused transactions, e.g. " + client.refused().stream().limit(5).toList());
        assertEquals(client.sent(), client.acknowledged().size(), "every message sent got 250");
        return new Rolling(client, restarts, counts);
    }

    /**
     * haproxy from deploy/haproxy/haproxy.cfg in front of the three nodes: SMTP and submission
     * on {@code lbSmtp} and {@code lbSubmission}, node i's two ports in {@code smtp[i]} and
     * {@code submission[i]}, checked on its health port; checks every 500 ms to keep tests short.
     */
    static HaproxyProcess haproxy(java.nio.file.Path dir, int lbSmtp, int lbSubmission, int[] smtp, int[] submission,
            int[] health) throws Exception {
        Map<String, String> replace = new LinkedHashMap<>();
        replace.put("bind :25\n", "bind 127.0.0.1:" + lbSmtp + "\n");
        replace.put("bind :587\n", "bind 127.0.0.1:" + lbSubmission + "\n");
        for (int i = 0; i < 3; i++) {
            String host = "10.0." + (i + 1) + ".10";
            replace.put(host + ":25 check port 8080", "127.0.0.1:" + smtp[i] + " check port " + health[i]);
            replace.put(host + ":587 check port 8080", "127.0.0.1:" + submission[i] + " check port " + health[i]);
        }
        replace.put("inter 2s fall 2 rise 2", "inter 500ms fall 2 rise 2"); // keeps the test short
        HaproxyProcess haproxy = HaproxyProcess.start(dir, replace, lbSmtp, lbSubmission);
        haproxy.awaitStatus(servers(0, 1, 2), "UP", Duration.ofSeconds(30));
        return haproxy;
    }

    /** Both backends' entries for the given node indexes, as {@code backend/server}. */
    static List<String> servers(int... indexes) {
        List<String> out = new ArrayList<>();
        for (int i : indexes) {
            out.add("relay_smtp/relay" + (i + 1));
            out.add("relay_submission/relay" + (i + 1));
        }
        return out;
    }

    /** Starts the node again on its spool; answers the seconds until it listened. */
    double restart(NodeProcess n) throws Exception {
        long t = System.nanoTime();
        n.restart(startTimeout);
        return (System.nanoTime() - t) / 1e9;
    }

    private static String seconds(List<Double> s) {
        return s.stream().map(v -> String.format("%.1fs", v)).toList().toString();
    }

    /** {@code perNode} messages into each node at once; returns the three clients. */
    List<LoadClient> loadOnAll(String prefix, int perNode, Duration deadline) throws Exception {
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

    static int acknowledged(List<LoadClient> clients) {
        return clients.stream().mapToInt(c -> c.acknowledged().size()).sum();
    }

    <T> List<T> parallel(List<Callable<T>> tasks) throws Exception {
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

    static void awaitAcknowledged(LoadClient client, int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (client.acknowledged().size() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("only " + client.acknowledged().size() + " of " + n
                        + " acknowledged within " + timeout);
            }
            Thread.sleep(50);
        }
    }

    /** Waits until the node's stderr has at least {@code n} lines containing {@code text}. */
    private static void awaitLogCount(NodeProcess node, String text, int n, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (count(node.stderr(), text) < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not " + n + " x '" + text + "' in " + node.dir() + "/node.err within "
                        + timeout + "; tail:\n" + NodeProcess.tail(node.dir().resolve("node.err"), 20));
            }
            Thread.sleep(200);
        }
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int at = text.indexOf(what); at >= 0; at = text.indexOf(what, at + what.length())) {
            n++;
        }
        return n;
    }
}
