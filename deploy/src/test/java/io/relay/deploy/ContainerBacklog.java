package io.relay.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.SmtpSource;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The container suite's deferred backlog (issue 17): {@link #COUNT} one-recipient messages of
 * 1 KB, sent with smtp-source through haproxy's published port to {@code deferred.test},
 * which the nodes route to the backlog's upstream; it answers 451 to every RCPT, so all of
 * them are deferred and stay queued while the faults hit. After each fault the cluster must
 * still hold exactly the same messages, deferred ({@link #kept}); at the end the upstream
 * accepts, the backlog's next hop is retried (the backoff is long) and every one must arrive
 * ({@link #release}). {@code -Drelay.test.backlog=N} sets another count, for a quick run.
 */
final class ContainerBacklog {
    static final int COUNT = Integer.getInteger("relay.test.backlog", 100_000);
    static final int BODY_BYTES = 1024;
    private static final String RECIPIENT = "c@" + ContainerCluster.BACKLOG_DOMAIN;

    private final ContainerCluster cluster;
    private Set<String> ids = Set.of();

    ContainerBacklog(ContainerCluster cluster) {
        this.cluster = cluster;
    }

    boolean filled() {
        return ids.size() == COUNT;
    }

    /** Sends the backlog through haproxy and waits until the cluster shows all of it deferred; keeps the ids. */
    void fill() throws Exception {
        long start = System.nanoTime();
        SmtpSource.send(List.of(new SmtpSource.Batch(cluster.lbHost(), cluster.lbSmtpPort(), COUNT, RECIPIENT)), 24,
                BODY_BYTES, "backlog@app.test", Duration.ofSeconds(1200));
        double sent = (System.nanoTime() - start) / 1e9;
        Kept k = await(Duration.ofSeconds(600));
        double deferred = (System.nanoTime() - start) / 1e9;
        assertEquals(COUNT, k.deferred(), "every message of the backlog deferred: " + k);
        ids = Set.copyOf(cluster.queueIds(null, ContainerCluster.BACKLOG_NEXT_HOP));
        assertEquals(COUNT, ids.size(), "the backlog's queue ids");
        cluster.phase(String.format("backlog: %d x %d B accepted through haproxy in %.1fs (%.0f msg/s), all "
                + "deferred after %.1fs", COUNT, BODY_BYTES, sent, COUNT / sent, deferred));
    }

    /** The backlog in the cluster now: deferred, queued in any state, filled ids missing, ids not filled. */
    record Kept(int deferred, int queued, int missing, int unknown) {
        boolean whole() {
            return deferred == COUNT && queued == COUNT && missing == 0 && unknown == 0;
        }
    }

    /** Waits until the whole backlog is deferred again, asserts the cluster holds exactly the filled ids; answers the counts. */
    Kept kept(String after) throws Exception {
        assertTrue(filled(), "the backlog was filled before the faults (see backlogOfDeferredMailIsQueued)");
        Kept k = await(Duration.ofSeconds(300));
        cluster.phase("backlog after " + after + ": " + k);
        assertTrue(k.whole(), "after " + after + " the cluster holds the " + COUNT + " deferred messages: " + k);
        return k;
    }

    private Kept await(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextProgress = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        Kept k = new Kept(-1, -1, ids.size(), 0);
        while (true) {
            try {
                int deferred = cluster.queueIds("deferred", ContainerCluster.BACKLOG_NEXT_HOP).size();
                Set<String> now = new HashSet<>(cluster.queueIds(null, ContainerCluster.BACKLOG_NEXT_HOP));
                int missing = (int) ids.stream().filter(id -> !now.contains(id)).count();
                int unknown = ids.isEmpty() ? 0 : (int) now.stream().filter(id -> !ids.contains(id)).count();
                k = new Kept(deferred, now.size(), missing, unknown);
            } catch (Exception notNow) {
                cluster.phase("backlog count not possible now: " + notNow.getMessage());
            }
            if (k.deferred() == COUNT && (ids.isEmpty() || k.whole()) || System.nanoTime() > deadline) {
                return k;
            }
            if (System.nanoTime() > nextProgress) {
                cluster.phase("backlog so far: " + k);
                nextProgress = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            }
            Thread.sleep(2000);
        }
    }

    /** The backlog's delivery once its upstream accepted. */
    record Delivered(int distinct, int duplicates, int missing, int retries, double seconds) {
    }

    /**
     * The upstream accepts; the backlog's next hop is retried at once, and again whenever
     * nothing more arrived for 30 s while mail is missing (a message in an attempt during the
     * switch is deferred once more), until every recipient arrived or {@code timeout}.
     */
    Delivered release(Duration timeout) throws Exception {
        long start = System.nanoTime();
        cluster.acceptBacklog();
        long deadline = start + timeout.toNanos();
        long nextRetry = 0;
        int lastArrived = 0;
        int retries = 0;
        Map<String, Integer> seen = Map.of();
        while (System.nanoTime() < deadline) {
            seen = cluster.backlogRecipients();
            if (seen.size() >= COUNT) {
                break;
            }
            if (seen.size() > lastArrived) {
                lastArrived = seen.size();
                nextRetry = System.nanoTime() + Duration.ofSeconds(30).toNanos(); // still arriving: no retry needed
            }
            if (System.nanoTime() >= nextRetry) {
                long touched = cluster.retry(ContainerCluster.BACKLOG_NEXT_HOP);
                retries++;
                cluster.phase("backlog: retry touched " + touched + " (" + seen.size() + " arrived so far)");
                if (touched == 0 && retries > 1) {
                    break; // nothing left to deliver: what has not arrived is not queued either
                }
                nextRetry = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            }
            Thread.sleep(2000);
        }
        Thread.sleep(1000); // a copy in flight at the last count would be a duplicate
        seen = cluster.backlogRecipients();
        int duplicates = seen.values().stream().mapToInt(c -> c - 1).sum();
        int missing = 0;
        for (int n = 1; n <= COUNT; n++) {
            if (!seen.containsKey(SmtpSource.recipient(n, RECIPIENT))) {
                missing++;
            }
        }
        Delivered d = new Delivered(COUNT - missing, duplicates, missing, retries, (System.nanoTime() - start) / 1e9);
        cluster.phase(String.format("backlog released: %d of %d arrived in %.1fs (%.0f msg/s), duplicates=%d, "
                + "missing=%d, forced retries=%d", d.distinct(), COUNT, d.seconds(), d.distinct() / d.seconds(),
                d.duplicates(), d.missing(), d.retries()));
        return d;
    }
}
