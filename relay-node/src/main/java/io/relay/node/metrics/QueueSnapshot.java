package io.relay.node.metrics;

import io.relay.queue.QueueView;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the queue gauges read: depth by state and the oldest message's age, from one
 * {@code ClusterQueue.view()} (a blocking read of every owned entry's state in Hazelcast).
 *
 * <p>Strategy: the view is taken on the scraping thread (the health worker, never an event
 * loop) and reused for {@code maxAge}, so both gauges of one scrape, and scrapers that come
 * close together (two Prometheus servers), cost one cluster read. When the read fails (the
 * member is leaving) the last good view is kept, so a scrape during shutdown still answers.
 * Settings: {@code maxAge} (the node uses 5 s, under any sensible scrape interval).
 */
public final class QueueSnapshot {
    private static final Logger LOG = LoggerFactory.getLogger(QueueSnapshot.class);
    private static final QueueView EMPTY = new QueueView(0, 0, 0, java.util.List.of());

    private final Supplier<QueueView> source;
    private final long maxAgeNanos;
    private final LongSupplier nanoTime;
    private QueueView last = EMPTY;
    private long takenAt;
    private boolean taken;

    public QueueSnapshot(Supplier<QueueView> source, Duration maxAge) {
        this(source, maxAge, System::nanoTime);
    }

    QueueSnapshot(Supplier<QueueView> source, Duration maxAge, LongSupplier nanoTime) {
        this.source = Objects.requireNonNull(source, "source");
        this.maxAgeNanos = maxAge.toNanos();
        this.nanoTime = nanoTime;
    }

    /** Points the queue gauges of {@code metrics} at this snapshot. */
    public void registerIn(RelayMetrics metrics) {
        metrics.queueDepth(this::depth);
        metrics.oldestMessageAge(this::oldestAge);
    }

    /**
     * Messages per state: ACTIVE, DEFERRED and HOLD count the messages this member owns (each
     * message in exactly one of them, so summing over the nodes gives the cluster's queue);
     * INCOMING counts accepts in flight on this node (spooled or being stored, no 250 yet),
     * Postfix's incoming queue, normally 0 between bursts.
     */
    public Map<QueueState, Long> depth() {
        QueueView v = view();
        Map<QueueState, Long> out = new EnumMap<>(QueueState.class);
        out.put(QueueState.INCOMING, v.incoming());
        out.put(QueueState.ACTIVE, v.active());
        out.put(QueueState.DEFERRED, v.deferred());
        out.put(QueueState.HOLD, v.held());
        return out;
    }

    public Duration oldestAge() {
        return Duration.ofMillis(view().oldestAgeMillis());
    }

    synchronized QueueView view() {
        long now = nanoTime.getAsLong();
        if (!taken || now - takenAt >= maxAgeNanos) {
            try {
                last = Objects.requireNonNull(source.get(), "view");
            } catch (RuntimeException e) {
                LOG.debug("queue view for metrics failed; keeping the last one: {}", e.toString());
            }
            takenAt = now; // also after a failure: do not hammer a member that is going away
            taken = true;
        }
        return last;
    }
}
