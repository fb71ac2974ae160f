package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.relay.node.testing.AdminApi;
import io.relay.node.testing.SmtpSource;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A backlog of deferred mail under a fault test (issue 17): {@link #COUNT} one-recipient
 * messages of 1 KB to {@code deferred.test}, which the nodes' transport map routes to a
 * {@link DeferringUpstream} that answers 4xx to every RCPT, so all of them are deferred with
 * backoff and stay queued while the faults hit. After each fault {@link #kept} counts what
 * the cluster still holds of exactly those messages; at the end {@link #release} makes their
 * upstream accept, forces their retry as an operator would ({@code relayctl queue retry
 * --nexthop}, since the backoff is long) and counts which arrived, and how often.
 *
 * <p>Why the nodes of such a test run with a long backoff ({@link #BACKOFF_YAML}): with the
 * 1-2 s of the other cluster tests, 100,000 deferred messages would each be tried again every
 * 2 s, a retry storm that measures nothing but the CPU. The live mail of the fault scenarios
 * shares that backoff, so where its upstream was down the test flushes the live next hop too.
 *
 * <p>{@code -Drelay.test.backlog=N} sets another count, for a quick run while developing.
 */
final class DeferredBacklog implements AutoCloseable {
    static final int COUNT = Integer.getInteger("relay.test.backlog", 100_000);
    static final String DOMAIN = "deferred.test";
    /** Payload of each message; with smtp-source's headers about 1.3 KB. */
    static final int BODY_BYTES = 1024;
    /** queue.* keys for the nodes under a backlog: nothing deferred is tried again by itself during the test. */
    static final String BACKOFF_YAML = """
            minimal-backoff-time: 30m
            maximal-backoff-time: 60m""";

    private final DeferringUpstream upstream;
    private List<SmtpSource.Batch> batches = List.of();
    private Set<String> ids = Set.of();

    private DeferredBacklog(DeferringUpstream upstream) {
        this.upstream = upstream;
    }

    static DeferredBacklog start(Path dir) throws Exception {
        return new DeferredBacklog(DeferringUpstream.deferring(dir));
    }

    /** The transport_maps entry (one YAML line, for {@code smtp.transport-maps}) that sends the backlog's domain to its upstream. */
    String transportMapEntry() {
        return DOMAIN + ": \"smtp:" + upstream.nextHop() + "\"";
    }

    String nextHop() {
        return upstream.nextHop();
    }

    /**
     * Sends {@link #COUNT} messages with smtp-source, split evenly over {@code smtpPorts} on
     * 127.0.0.1 (batch I to the I-th port, its recipients {@code NxI@deferred.test}), waits
     * until the cluster shows all of them deferred at the backlog's next hop, and keeps their
     * queue ids.
     */
    void fill(List<Integer> smtpPorts, AdminApi admin) throws Exception {
        long start = System.nanoTime();
        batches = new ArrayList<>();
        int left = COUNT;
        for (int i = 0; i < smtpPorts.size(); i++) {
            int n = left / (smtpPorts.size() - i);
            left -= n;
            batches.add(new SmtpSource.Batch("127.0.0.1", smtpPorts.get(i), n, "x" + i + "@" + DOMAIN));
        }
        SmtpSource.send(batches, Math.max(2, 24 / smtpPorts.size()), BODY_BYTES, "backlog@app.test",
                Duration.ofSeconds(900));
        double sent = (System.nanoTime() - start) / 1e9;
        Kept k = awaitDeferred(admin, Duration.ofSeconds(600));
        assertEquals(COUNT, k.deferred(), "every message of the backlog deferred: " + k);
        ids = Set.copyOf(admin.ids(null, nextHop()));
        assertEquals(COUNT, ids.size(), "the backlog's queue ids");
        System.out.printf("backlog: %d x %d B to %s accepted in %.1fs (%.0f msg/s), all deferred after %.1fs%n",
                COUNT, BODY_BYTES, nextHop(), sent, COUNT / sent, (System.nanoTime() - start) / 1e9);
    }

    /** What the cluster holds of the backlog: deferred now, queued in any state, filled ids missing, ids it did not fill. */
    record Kept(int deferred, int queued, int missing, int unknown) {
        boolean whole() {
            return deferred == COUNT && queued == COUNT && missing == 0 && unknown == 0;
        }
    }

    /**
     * Waits (up to {@code timeout}) until the cluster holds exactly the filled messages, all
     * deferred, and answers what it holds then; prints it. The caller decides what a shortfall
     * means, so that a test can go on and show where the missing messages went.
     */
    Kept kept(AdminApi admin, Duration timeout, String after) throws Exception {
        Kept k = awaitDeferred(admin, timeout);
        System.out.printf("backlog after %s: %s%n", after, k);
        return k;
    }

    private Kept awaitDeferred(AdminApi admin, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextProgress = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        Kept k = new Kept(-1, -1, ids.size(), 0);
        while (true) {
            try {
                k = count(admin);
            } catch (IOException notNow) {
                // a member that is joining or leaving fails the cluster-wide query; ask again
                System.out.println("backlog count not possible now: " + notNow.getMessage());
            }
            if (k.deferred() == COUNT && (ids.isEmpty() || k.whole()) || System.nanoTime() > deadline) {
                return k;
            }
            if (System.nanoTime() > nextProgress) {
                System.out.println("backlog so far: " + k);
                nextProgress = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            }
            Thread.sleep(2000);
        }
    }

    private Kept count(AdminApi admin) throws Exception {
        int deferred = admin.ids("deferred", nextHop()).size();
        if (ids.isEmpty()) {
            return new Kept(deferred, deferred, 0, 0);
        }
        Set<String> now = new HashSet<>(admin.ids(null, nextHop()));
        int missing = (int) ids.stream().filter(id -> !now.contains(id)).count();
        int unknown = (int) now.stream().filter(id -> !ids.contains(id)).count();
        return new Kept(deferred, now.size(), missing, unknown);
    }

    /**
     * The backlog's delivery after its upstream came back: recipients that arrived, extra
     * copies, recipients missing (by the batch, i.e. the node, that accepted them), forced
     * retries, and how long it took.
     */
    record Delivered(int distinct, int duplicates, int missing, Map<String, Integer> missingByBatch, int retries,
                     double seconds) {
    }

    /**
     * The upstream accepts from now on; the backlog's next hop is retried at once, and again
     * whenever nothing more arrived for 30 s while mail is missing (a message in an attempt
     * during the switch is deferred once more), until every recipient arrived or
     * {@code timeout}. Answers the counts.
     */
    Delivered release(AdminApi admin, Duration timeout) throws Exception {
        long start = System.nanoTime();
        upstream.accept();
        long deadline = start + timeout.toNanos();
        int retries = 0;
        long nextRetry = 0;
        int lastArrived = 0;
        Map<String, Integer> seen = Map.of();
        while (System.nanoTime() < deadline) {
            seen = upstream.recipients();
            if (seen.size() >= COUNT) {
                break;
            }
            if (seen.size() > lastArrived) {
                lastArrived = seen.size();
                nextRetry = System.nanoTime() + Duration.ofSeconds(30).toNanos(); // still arriving: no retry needed
            }
            if (System.nanoTime() >= nextRetry) {
                long touched = admin.retry(nextHop());
                retries++;
                System.out.printf("backlog: retry of %s touched %d (%d arrived so far)%n", nextHop(), touched,
                        seen.size());
                if (touched == 0 && retries > 1) {
                    break; // nothing left to deliver: what has not arrived is not queued either
                }
                nextRetry = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            }
            Thread.sleep(1000);
        }
        Thread.sleep(1000); // a copy in flight at the last count would be a duplicate
        seen = upstream.recipients();
        int duplicates = seen.values().stream().mapToInt(c -> c - 1).sum();
        Map<String, Integer> missingByBatch = new TreeMap<>();
        int missing = 0;
        for (SmtpSource.Batch b : batches) {
            for (int n = 1; n <= b.messages(); n++) {
                if (!seen.containsKey(SmtpSource.recipient(n, b.recipient()))) {
                    missing++;
                    missingByBatch.merge(b.recipient(), 1, Integer::sum);
                }
            }
        }
        Delivered d = new Delivered(COUNT - missing, duplicates, missing, missingByBatch, retries,
                (System.nanoTime() - start) / 1e9);
        System.out.printf("backlog released: %d of %d arrived in %.1fs (%.0f msg/s), duplicates=%d, missing=%d %s, "
                        + "forced retries=%d%n", d.distinct(), COUNT, d.seconds(), d.distinct() / d.seconds(),
                d.duplicates(), d.missing(), d.missingByBatch(), d.retries());
        return d;
    }

    @Override
    public void close() {
        upstream.close();
    }
}
