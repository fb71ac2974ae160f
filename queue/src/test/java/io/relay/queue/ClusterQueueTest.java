package io.relay.queue;

import static io.relay.queue.TestClusters.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One real Hazelcast member on 127.0.0.1 per test, with a temp spool. */
class ClusterQueueTest {
    private final List<ClusterQueue> opened = new ArrayList<>();

    @TempDir
    Path spool;

    @AfterEach
    void closeAll() {
        for (ClusterQueue q : opened) {
            try {
                q.close();
            } catch (RuntimeException e) {
                // already terminated
            }
        }
    }

    private ClusterQueue open(String cluster, int port, QueueSettings settings) {
        ClusterQueue q = TestClusters.queue(ClusterMember.start(TestClusters.alone(cluster, port)), settings);
        opened.add(q);
        return q;
    }

    @Test
    void acceptedMessageIsDeliveredThenForgottenEverywhere() throws Exception {
        ClusterQueue queue = open(TestClusters.clusterName(), TestClusters.freePort(), TestClusters.settings(spool));
        TestClusters.RecordingHandler handler = new TestClusters.RecordingHandler();
        queue.start(handler);
        List<QueueId> ids = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            QueuedMessage m = TestClusters.message(queue.newId(), 4096, "a@x.test", "b@x.test");
            ids.add(m.id());
            queue.accept(m).get(10, TimeUnit.SECONDS);
        }
        await("all delivered", Duration.ofSeconds(20), () -> handler.total() == 20);
        await("store and spool empty", Duration.ofSeconds(10), () -> TestClusters.owned(queue) == 0
                && queue.journal().owedCount() == 0);
        assertTrue(handler.noneTwice());
        assertEquals(0, queue.clusterEntries().size());
        assertTrue(ids.stream().allMatch(id -> handler.deliveries.containsKey(id.value())));
        // delivered where accepted: the spool's DONE records are enough, no tombstones in the cluster
        assertEquals(0, queue.clusterMemberForTests().hazelcast().getMap(ClusterQueue.DONE_MAP).size());
    }

    /** The gauges' counts come from the queue's bookkeeping; they must say what a read of the store says. */
    @Test
    void countsFollowDeferralsHoldsReleasesAndDeliveriesAsTheStoreSees() throws Exception {
        QueueSettings s = new QueueSettings(spool, Duration.ofHours(1), Duration.ofHours(1), Duration.ofDays(5), 4,
                1000, 1L << 30);
        ClusterQueue queue = open(TestClusters.clusterName(), TestClusters.freePort(), s);
        TestClusters.RecordingHandler handler = new TestClusters.RecordingHandler();
        handler.deferAll = true;
        queue.start(handler);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            QueuedMessage m = TestClusters.message(queue.newId(), 1000);
            ids.add(m.id().value());
            queue.accept(m).get(10, TimeUnit.SECONDS);
        }
        await("five deferred", Duration.ofSeconds(10), () -> queue.counts().deferred() == 5);
        assertSameCounts(queue, 0, 5, 0);
        queue.hold(ids.subList(0, 2), n -> { });
        await("two held", Duration.ofSeconds(10), () -> queue.counts().held() == 2);
        assertSameCounts(queue, 0, 3, 2);
        queue.release(ids.subList(0, 1), n -> { });
        await("one released", Duration.ofSeconds(10), () -> queue.counts().held() == 1);
        assertSameCounts(queue, 0, 4, 1);
        handler.deferAll = false;
        queue.release(ids.subList(1, 2), n -> { });
        queue.retry(ids, n -> { });
        await("all delivered", Duration.ofSeconds(10), () -> handler.total() == 5);
        await("counts empty", Duration.ofSeconds(10), () -> queue.counts().active() + queue.counts().deferred()
                + queue.counts().held() == 0);
        // the index entry's removal after delivery is not waited for (Attempts.finish): the counts drop first
        await("store empty", Duration.ofSeconds(10), () -> queue.clusterEntries().isEmpty());
        assertSameCounts(queue, 0, 0, 0);
        assertEquals(0, queue.counts().oldestAgeMillis());
    }

    private static void assertSameCounts(ClusterQueue queue, long active, long deferred, long held) {
        QueueView counted = queue.counts();
        // what the operator's listing reads from the store (one member: all entries are its own)
        List<QueueView.Entry> read = queue.clusterEntries();
        long readHeld = read.stream().filter(e -> e.meta().queueState() == QueueState.HOLD).count();
        long readDeferred = read.stream().filter(e -> e.meta().queueState() == QueueState.DEFERRED).count();
        long readOldest = read.isEmpty() ? 0
                : Math.max(0, System.currentTimeMillis() - read.get(0).meta().arrivalMillis());
        assertEquals(List.of(active, deferred, held), List.of(counted.active(), counted.deferred(), counted.held()));
        assertEquals(List.of(read.size() - readDeferred - readHeld, readDeferred, readHeld),
                List.of(counted.active(), counted.deferred(), counted.held()));
        assertTrue(Math.abs(counted.oldestAgeMillis() - readOldest) < 1000,
                counted.oldestAgeMillis() + " ms counted, " + readOldest + " ms read");
    }

    @Test
    void deferralsBackOffDoublingUpToTheCap() throws Exception {
        ClusterQueue queue = open(TestClusters.clusterName(), TestClusters.freePort(), TestClusters.settings(spool));
        TestClusters.RecordingHandler handler = new TestClusters.RecordingHandler();
        handler.deferAll = true;
        queue.start(handler);
        queue.accept(TestClusters.message(queue.newId(), 100)).get(10, TimeUnit.SECONDS);
        await("five attempts", Duration.ofSeconds(10), () -> handler.attemptTimes.size() >= 5);
        handler.deferAll = false;
        List<Long> t = new ArrayList<>(handler.attemptTimes);
        long[] expected = {100, 200, 400, 400};
        for (int i = 0; i < expected.length; i++) {
            long gap = t.get(i + 1) - t.get(i);
            assertTrue(gap >= expected[i] && gap < expected[i] * 1.1 + 150,
                    "gap " + (i + 1) + " was " + gap + " ms, expected ~" + expected[i] + " (all: " + t + ")");
        }
        assertEquals(List.of(1, 2, 3, 4, 5), handler.attemptNumbers.subList(0, 5));
        QueueView view = queue.counts();
        assertTrue(view.deferred() <= 1);
        await("delivered once the peer recovers", Duration.ofSeconds(10), () -> handler.total() == 1);
    }

    @Test
    void expiryAfterMaximalLifetimeCallsExpiredExactlyOnce() throws Exception {
        QueueSettings s = new QueueSettings(spool, Duration.ofMillis(50), Duration.ofMillis(100),
                Duration.ofMillis(400), 4, 1000, 1L << 30);
        ClusterQueue queue = open(TestClusters.clusterName(), TestClusters.freePort(), s);
        TestClusters.RecordingHandler handler = new TestClusters.RecordingHandler();
        handler.deferAll = true;
        queue.start(handler);
        queue.accept(TestClusters.message(queue.newId(), 100)).get(10, TimeUnit.SECONDS);
        await("expired", Duration.ofSeconds(10), () -> handler.expired.get() == 1);
        int attempts = handler.attemptTimes.size();
        assertTrue(attempts >= 3, "deferred a few times first: " + attempts);
        await("removed", Duration.ofSeconds(5), () -> TestClusters.owned(queue) == 0 && queue.journal().owedCount() == 0);
        Thread.sleep(500); // would have been several more attempts at 100 ms backoff
        assertEquals(1, handler.expired.get());
        assertEquals(attempts, handler.attemptTimes.size(), "no attempt after expiry");
    }

    @Test
    void handlerExceptionDefersInsteadOfLosingTheMessage() throws Exception {
        ClusterQueue queue = open(TestClusters.clusterName(), TestClusters.freePort(), TestClusters.settings(spool));
        TestClusters.RecordingHandler handler = new TestClusters.RecordingHandler();
        handler.throwOnce = new IllegalStateException("boom");
        queue.start(handler);
        queue.accept(TestClusters.message(queue.newId(), 100)).get(10, TimeUnit.SECONDS);
        await("delivered on the retry", Duration.ofSeconds(10), () -> handler.total() == 1);
        assertEquals(List.of(1, 2), handler.attemptNumbers);
    }

    @Test
    void refusesAboveMaxMessagesAndRecoversAfterDeliveries() throws Exception {
        QueueSettings s = new QueueSettings(spool, Duration.ofMillis(100), Duration.ofMillis(400),
                Duration.ofDays(5), 2, 5, 1L << 30);
        ClusterQueue queue = open(TestClusters.clusterName(), TestClusters.freePort(), s);
        for (int i = 0; i < 5; i++) {
            queue.accept(TestClusters.message(queue.newId(), 100)).get(10, TimeUnit.SECONDS);
        }
        await("owned entries tracked", Duration.ofSeconds(5), () -> TestClusters.owned(queue) == 5);
        assertTrue(queue.full());
        CompletableFuture<Void> refused = queue.accept(TestClusters.message(queue.newId(), 100));
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> refused.get(10, TimeUnit.SECONDS));
        assertInstanceOf(QueueFullException.class, e.getCause());
        TestClusters.RecordingHandler handler = new TestClusters.RecordingHandler();
        queue.start(handler);
        await("drained", Duration.ofSeconds(10), () -> handler.total() == 5 && !queue.full());
        queue.accept(TestClusters.message(queue.newId(), 100)).get(10, TimeUnit.SECONDS);
        await("the new one too", Duration.ofSeconds(10), () -> handler.total() == 6);
    }

    @Test
    void crashBeforeDeliveryThenRestartDeliversEverythingExactlyOnce() throws Exception {
        String cluster = TestClusters.clusterName();
        int port = TestClusters.freePort();
        ClusterQueue first = open(cluster, port, TestClusters.settings(spool));
        String firstEpoch = first.epoch();
        List<CompletableFuture<Void>> accepted = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            QueuedMessage m = TestClusters.message(first.newId(), 4096, "a@x.test");
            ids.add(m.id().value());
            accepted.add(first.accept(m));
        }
        CompletableFuture.allOf(accepted.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
        // Whole cluster dies: the store is gone, only the spool remains.
        first.clusterMemberForTests().terminate();
        first.close();

        ClusterQueue second = open(cluster, port, TestClusters.settings(spool));
        assertFalse(firstEpoch.equals(second.epoch()), "a cluster that went down entirely gets a new epoch");
        TestClusters.RecordingHandler handler = new TestClusters.RecordingHandler();
        second.start(handler);
        await("all 50 delivered", Duration.ofSeconds(20), () -> handler.total() == 50);
        await("spool drained", Duration.ofSeconds(10), () -> second.journal().owedCount() == 0);
        Thread.sleep(300);
        assertEquals(50, handler.total());
        assertTrue(handler.noneTwice());
        assertEquals(new java.util.HashSet<>(ids), handler.deliveries.keySet());
    }

    @Test
    void wholeClusterRestartRestoresDeferredStateFromTheSpool() throws Exception {
        String cluster = TestClusters.clusterName();
        int port = TestClusters.freePort();
        QueueSettings slowRetry = new QueueSettings(spool, Duration.ofSeconds(30), Duration.ofSeconds(60),
                Duration.ofDays(5), 2, 1000, 1L << 30);
        ClusterQueue first = open(cluster, port, slowRetry);
        TestClusters.RecordingHandler before = new TestClusters.RecordingHandler();
        before.deferRecipients.add("b@x.test");
        first.start(before);
        QueuedMessage m = TestClusters.message(first.newId(), 500, "a@x.test", "b@x.test");
        first.accept(m).get(10, TimeUnit.SECONDS);
        await("first attempt deferred b", Duration.ofSeconds(10),
                () -> first.counts().deferred() == 1);
        first.journal().flush().get(10, TimeUnit.SECONDS);
        first.clusterMemberForTests().terminate();
        first.close();

        QueueSettings fastRetry = TestClusters.settings(spool);
        ClusterQueue second = open(cluster, port, fastRetry);
        TestClusters.RecordingHandler after = new TestClusters.RecordingHandler();
        second.start(after);
        second.replayed().get(30, TimeUnit.SECONDS);
        // The restored state says "next attempt in ~30 s"; the replayed deferral keeps it.
        assertEquals(1, second.counts().deferred());
        QueueView.Entry entry = second.clusterEntries().get(0);
        assertEquals(List.of("b@x.test"), entry.meta().pending());
        assertEquals(1, entry.meta().attempts());
        assertTrue(after.attempts.isEmpty(), "not retried before its backoff ran out");
    }

    @Test
    void postponedRecipientsComeBackAtTheirTimeWithoutCountingAnAttempt() throws Exception {
        ClusterQueue queue = open(TestClusters.clusterName(), TestClusters.freePort(), TestClusters.settings(spool));
        List<Long> times = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Integer> attemptNumbers = new java.util.concurrent.CopyOnWriteArrayList<>();
        queue.start(new DeliveryHandler() {
            @Override
            public List<RecipientOutcome> deliver(DeliveryAttempt attempt) {
                times.add(System.currentTimeMillis());
                attemptNumbers.add(attempt.attempt());
                List<RecipientOutcome> out = new ArrayList<>();
                for (String r : attempt.recipients()) {
                    // a.test is delivered at once; b.test is held back twice (a busy lane), then delivered
                    out.add(r.endsWith("@a.test") || times.size() > 2 ? new RecipientOutcome.Delivered(r)
                            : new RecipientOutcome.Postponed(r, System.currentTimeMillis() + 300, "lane busy"));
                }
                return out;
            }

            @Override
            public void expired(QueuedMessage message, List<RecipientOutcome.Deferred> lastOutcomes) {
            }
        });
        queue.accept(TestClusters.message(queue.newId(), 100, "x@a.test", "y@b.test")).get(10, TimeUnit.SECONDS);
        await("delivered after two postponements", Duration.ofSeconds(10), () -> TestClusters.owned(queue) == 0);
        assertEquals(3, times.size());
        assertEquals(List.of(1, 1, 1), attemptNumbers, "postponing counts no attempt");
        for (int i = 1; i < 3; i++) {
            long gap = times.get(i) - times.get(i - 1);
            assertTrue(gap >= 300 && gap < 1000, "held back until its time, not the backoff: " + gap + " ms");
        }
    }

    @Test
    void aLongPostponementShowsWithItsReasonAndARetryBringsItBack() throws Exception {
        ClusterQueue queue = open(TestClusters.clusterName(), TestClusters.freePort(), TestClusters.settings(spool));
        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        queue.start(new DeliveryHandler() {
            @Override
            public List<RecipientOutcome> deliver(DeliveryAttempt attempt) {
                boolean first = calls.incrementAndGet() == 1;
                return attempt.recipients().stream().<RecipientOutcome>map(r -> first
                        ? new RecipientOutcome.Postponed(r, System.currentTimeMillis() + 3_600_000, "daily quota reached")
                        : new RecipientOutcome.Delivered(r)).toList();
            }

            @Override
            public void expired(QueuedMessage message, List<RecipientOutcome.Deferred> lastOutcomes) {
            }
        });
        QueuedMessage m = TestClusters.message(queue.newId(), 100, "x@a.test", "y@b.test");
        queue.accept(m).get(10, TimeUnit.SECONDS);
        await("held back with its reason", Duration.ofSeconds(10), () -> queue.clusterEntries().stream()
                .anyMatch(e -> e.meta().lastReason().equals("daily quota reached")));
        QueueMeta held = queue.clusterEntries().get(0).meta();
        assertEquals("deferred", held.state());
        assertEquals(0, held.attempts(), "postponing counts no attempt");
        assertTrue(held.nextAttemptMillis() > System.currentTimeMillis() + 3_000_000, "its next slot is stored");
        assertEquals(List.of(m.id().value()), queue.retry(List.of(m.id().value()), n -> { }));
        await("delivered after the retry", Duration.ofSeconds(10), () -> TestClusters.owned(queue) == 0);
        assertEquals(2, calls.get());
    }
}
