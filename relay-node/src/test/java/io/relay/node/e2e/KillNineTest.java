package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.LoadClient;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The durability promise of a 250, tested the hard way: the node is killed with SIGKILL
 * (no shutdown hook, no flush) and started again on the same spool; every message that
 * got 250 must reach the upstream. Each run prints sent / 250s / delivered / lost /
 * duplicates for the closing note.
 */
class KillNineTest {

    static String config(Path dir, int smtp, int sinkPort) {
        return SmartHostEndToEndTest.nodeConfig(dir, smtp, """
                relayhost: "[127.0.0.1]:%d"
                tls-security-level: none""".formatted(sinkPort));
    }

    @Test
    void killDuringLoadLosesNothing(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        int smtp = Ports.free();
        try (TaggedSink sink = TaggedSink.started(dir.resolve("sink"));
             NodeProcess node = NodeProcess.start(dir.resolve("node"), config(dir.resolve("node"), smtp, sink.port()), smtp)) {
            LoadClient load = new LoadClient("127.0.0.1", smtp);
            Thread loader = new Thread(() -> {
                try {
                    load.run("kill", 4000, 20, 10, 4096, Duration.ofSeconds(150));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            loader.start();
            awaitAcknowledged(load, 1000, Duration.ofSeconds(60));
            node.kill9();
            int ackedAtKill = load.acknowledged().size();
            node.restart();
            loader.join(TimeUnit.SECONDS.toMillis(180));
            report("kill -9 during load", load, sink, Duration.ofSeconds(120));
            assertTrue(ackedAtKill >= 1000, "the kill came under load");
        }
    }

    @Test
    void killWithUpstreamDownThenRestartDeliversTheQueue(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        int smtp = Ports.free();
        try (TaggedSink sink = new TaggedSink(dir.resolve("sink"));
             NodeProcess node = NodeProcess.start(dir.resolve("node"), config(dir.resolve("node"), smtp, sink.port()), smtp)) {
            LoadClient load = new LoadClient("127.0.0.1", smtp);
            load.run("queued", 500, 10, 10, 4096, Duration.ofSeconds(60)); // the upstream is down: all deferred
            assertEquals(500, load.acknowledged().size(), "every message got 250 while the upstream was down");
            node.kill9();
            sink.start();
            node.restart();
            report("kill -9 with 500 queued, upstream down", load, sink, Duration.ofSeconds(120));
        }
    }

    private static void awaitAcknowledged(LoadClient load, int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (load.acknowledged().size() < n && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    /** Waits until every acknowledged tag arrived (or the timeout), prints the counts, and asserts no loss. */
    static Counts report(String name, LoadClient load, TaggedSink sink, Duration timeout) throws Exception {
        return report(name, List.of(load), sink, timeout);
    }

    /** The same over several clients (one per node of a cluster); their tag prefixes differ. */
    static Counts report(String name, List<LoadClient> loads, TaggedSink sink, Duration timeout) throws Exception {
        return report(name, loads, sink, timeout, Nudge.NONE);
    }

    /** What one report counted: the clients' messages sent, acknowledged (250), arrived, lost and arrived twice or more. */
    record Counts(int sent, int acknowledged, int delivered, int lost, long duplicates) {
    }

    /** Something the waiting report does every 10 s, e.g. an operator's flush of a next hop whose upstream came back. */
    interface Nudge {
        Nudge NONE = () -> { };

        void run() throws Exception;
    }

    /**
     * As {@link #report(String, List, TaggedSink, Duration)}, calling {@code nudge} every 10 s
     * while acknowledged mail is missing. Only the clients' own tags count, so
     * several scenarios can share one sink.
     */
    static Counts report(String name, List<LoadClient> loads, TaggedSink sink, Duration timeout, Nudge nudge)
            throws Exception {
        Set<String> acked = loads.stream().flatMap(l -> l.acknowledged().keySet().stream()).collect(Collectors.toSet());
        int sent = loads.stream().mapToInt(LoadClient::sent).sum();
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextNudge = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Map<String, Integer> arrived = ours(sink.tags(), loads);
        while (!arrived.keySet().containsAll(acked) && System.nanoTime() < deadline) {
            if (System.nanoTime() >= nextNudge) {
                nudge.run();
                nextNudge = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            }
            Thread.sleep(250);
            arrived = ours(sink.tags(), loads);
        }
        Map<String, Integer> seen = arrived;
        Set<String> lost = acked.stream().filter(t -> !seen.containsKey(t)).collect(Collectors.toSet());
        long duplicates = seen.values().stream().filter(c -> c > 1).mapToLong(c -> c - 1).sum();
        int deliveredOfAcked = (int) acked.stream().filter(seen::containsKey).count();
        System.out.printf("%s: sent=%d, 250s=%d, delivered=%d (of them %d acknowledged), lost=%d, duplicates=%d%n",
                name, sent, acked.size(), arrived.size(), deliveredOfAcked, lost.size(), duplicates);
        assertTrue(lost.isEmpty(), () -> "lost " + lost.size() + " acknowledged messages, e.g. "
                + lost.stream().limit(5).toList());
        return new Counts(sent, acked.size(), arrived.size(), lost.size(), duplicates);
    }

    private static Map<String, Integer> ours(Map<String, Integer> tags, List<LoadClient> loads) {
        return tags.entrySet().stream().filter(e -> loads.stream().anyMatch(l -> l.sentTag(e.getKey())))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
    }
}
