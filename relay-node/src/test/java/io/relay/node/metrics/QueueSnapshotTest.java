package io.relay.node.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.queue.QueueView;
import java.time.Duration;
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
            return new QueueView(3 + reads.get(), 7, 90_000);
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
            return new QueueView(2, 1, 1000);
        }, Duration.ofSeconds(5), now::get);

        assertEquals(2L, s.depth().get(QueueState.ACTIVE));
        now.addAndGet(Duration.ofSeconds(6).toNanos());
        assertEquals(2L, s.depth().get(QueueState.ACTIVE));
        assertEquals(Duration.ofSeconds(1), s.oldestAge());
        assertEquals(2, calls.get(), "no new read within max age of a failure");
    }

    @Test
    void heldAndIncomingAreCountedApartFromActiveAndDeferred() {
        QueueSnapshot s = new QueueSnapshot(() -> new QueueView(2, 5, 1000, 3, 1), Duration.ofSeconds(5),
                now::get);
        assertEquals(Map.of(QueueState.ACTIVE, 2L, QueueState.DEFERRED, 5L, QueueState.HOLD, 3L,
                QueueState.INCOMING, 1L), s.depth());
    }

    @Test
    @org.junit.jupiter.api.Timeout(30) // the old synchronous read would wait for the latch forever
    void aSlowReadDoesNotHoldTheScrapeTheLastViewAnswersMeanwhile() throws Exception {
        java.util.concurrent.CountDownLatch slow = new java.util.concurrent.CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        QueueSnapshot s = new QueueSnapshot(() -> {
            if (calls.incrementAndGet() == 2) {
                try {
                    slow.await(); // 200k entries on a busy machine
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return new QueueView(200_000, 0, 1000);
            }
            return new QueueView(calls.get(), 0, 1000);
        }, Duration.ofSeconds(5), now::get, Duration.ofMillis(200));

        assertEquals(1L, s.depth().get(QueueState.ACTIVE));
        now.addAndGet(Duration.ofSeconds(6).toNanos());
        long t0 = System.nanoTime();
        assertEquals(1L, s.depth().get(QueueState.ACTIVE), "the last view while the read goes on");
        assertEquals(1L, s.depth().get(QueueState.ACTIVE));
        long waited = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(waited < 2_000, "two scrapes waited " + waited + " ms");
        assertEquals(2, calls.get(), "one read in flight, not one per scrape");
        slow.countDown();
        long until = System.nanoTime() + 5_000_000_000L;
        while (s.depth().get(QueueState.ACTIVE) != 200_000L && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertEquals(200_000L, s.depth().get(QueueState.ACTIVE), "the finished read answers the next scrape");
    }
}
