package io.relay.node.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.relay.queue.QueueView;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The cached queue view behind the queue gauges: one cluster read per max age, the last good one on failure. */
class QueueSnapshotTest {
    private final AtomicLong now = new AtomicLong();
    private final AtomicInteger reads = new AtomicInteger();

    @Test
    void bothGaugesOfAScrapeShareOneReadUntilItIsOld() {
        QueueSnapshot s = new QueueSnapshot(() -> {
            reads.incrementAndGet();
            return new QueueView(3 + reads.get(), 7, 90_000, List.of());
        }, Duration.ofSeconds(5), now::get);

        assertEquals(Map.of(QueueState.ACTIVE, 4L, QueueState.DEFERRED, 7L, QueueState.HOLD, 0L,
                QueueState.INCOMING, 0L), s.depth());
        assertEquals(Duration.ofSeconds(90), s.oldestAge());
        now.addAndGet(Duration.ofSeconds(4).toNanos());
        assertEquals(4L, s.depth().get(QueueState.ACTIVE));
        assertEquals(1, reads.get());

        now.addAndGet(Duration.ofSeconds(1).toNanos());
        assertEquals(5L, s.depth().get(QueueState.ACTIVE));
        assertEquals(2, reads.get());
    }

    @Test
    void aFailedReadKeepsTheLastViewAndWaitsBeforeTheNext() {
        AtomicInteger calls = new AtomicInteger();
        QueueSnapshot s = new QueueSnapshot(() -> {
            if (calls.incrementAndGet() > 1) {
                throw new IllegalStateException("member shutting down");
            }
            return new QueueView(2, 1, 1000, List.of());
        }, Duration.ofSeconds(5), now::get);

        assertEquals(2L, s.depth().get(QueueState.ACTIVE));
        now.addAndGet(Duration.ofSeconds(6).toNanos());
        assertEquals(2L, s.depth().get(QueueState.ACTIVE));
        assertEquals(Duration.ofSeconds(1), s.oldestAge());
        assertEquals(2, calls.get(), "no new read within max age of a failure");
    }

    @Test
    void heldAndIncomingAreCountedApartFromActiveAndDeferred() {
        QueueSnapshot s = new QueueSnapshot(() -> new QueueView(2, 5, 1000, List.of(), 3, 1), Duration.ofSeconds(5),
                now::get);
        assertEquals(Map.of(QueueState.ACTIVE, 2L, QueueState.DEFERRED, 5L, QueueState.HOLD, 3L,
                QueueState.INCOMING, 1L), s.depth());
    }
}
