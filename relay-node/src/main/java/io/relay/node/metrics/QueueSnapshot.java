package io.relay.node.metrics;

import io.relay.queue.QueueView;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the queue gauges read: depth by state and the oldest message's age, from one
 * {@code ClusterQueue.counts()} (the queue's own bookkeeping of the entries this member owns:
 * an in-memory pass, a few milliseconds with 200k queued; it used to be {@code view()}, a
 * read and decode of every owned entry, which took over a minute on a busy machine).
 *
 * <p>Strategy: the counts are taken once per {@code maxAge}, so both gauges of one scrape,
 * and scrapers that come close together (two Prometheus servers), cost one pass. When the
 * source fails (the member is leaving) the last good counts are kept, so a scrape during
 * shutdown still answers. The source runs on its own daemon thread and a scrape waits for it
 * at most {@code maxWait} (2 s), answering with the previous counts meanwhile.
 * Settings: {@code maxAge} (the node uses 5 s, under any sensible scrape interval).
 */
public final class QueueSnapshot {
    private static final Logger LOG = LoggerFactory.getLogger(QueueSnapshot.class);
    private static final QueueView EMPTY = new QueueView(0, 0, 0);

    private final Supplier<QueueView> source;
    private final long maxAgeNanos;
    private final LongSupplier nanoTime;
    private final Executor reader;
    private final long maxWaitNanos;
    private CompletableFuture<QueueView> reading;
    private QueueView last = EMPTY;
    private long takenAt;
    private boolean taken;

    public QueueSnapshot(Supplier<QueueView> source, Duration maxAge) {
        this(source, maxAge, System::nanoTime, Duration.ofSeconds(2));
    }

    QueueSnapshot(Supplier<QueueView> source, Duration maxAge, LongSupplier nanoTime) {
        this(source, maxAge, nanoTime, Duration.ofSeconds(2));
    }

    QueueSnapshot(Supplier<QueueView> source, Duration maxAge, LongSupplier nanoTime, Duration maxWait) {
        this.source = Objects.requireNonNull(source, "source");
        this.maxAgeNanos = maxAge.toNanos();
        this.nanoTime = nanoTime;
        this.maxWaitNanos = maxWait.toNanos();
        this.reader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "queue-snapshot");
            t.setDaemon(true);
            return t;
        });
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
        if (reading == null && (!taken || now - takenAt >= maxAgeNanos)) {
            reading = CompletableFuture.supplyAsync(() -> Objects.requireNonNull(source.get(), "view"), reader);
            takenAt = now; // also after a failure: do not hammer a member that is going away
            taken = true;
        }
        if (reading != null) {
            try {
                last = reading.get(maxWaitNanos, TimeUnit.NANOSECONDS);
                reading = null;
            } catch (TimeoutException e) {
                // still reading: answer with the last view, the read finishes for the next scrape
            } catch (ExecutionException e) {
                LOG.debug("queue view for metrics failed; keeping the last one: {}", e.getCause().toString());
                reading = null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return last;
    }
}
