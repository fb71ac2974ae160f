package io.relay.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link SpoolSpace} against a scripted file system, and {@link SpaceCheckedQueue} in front of a fake queue. */
class SpoolSpaceTest {
    private static final long MIB = 1024 * 1024;
    private final AtomicLong usable = new AtomicLong(100 * MIB);
    private final List<String> lines = new ArrayList<>();
    private final SpoolSpace.Transitions record = new SpoolSpace.Transitions() {
        @Override
        public void low(String line) {
            lines.add("low: " + line);
        }

        @Override
        public void recovered(String line) {
            lines.add("recovered: " + line);
        }
    };

    private SpoolSpace space(long min) {
        SpoolSpace s = new SpoolSpace(Path.of("/spool"), min, usable::get, record);
        s.sample();
        return s;
    }

    @Test
    void belowTheMinimumRefusesAndSaysSoOnceAboveItAcceptsAgainAndSaysSoOnce() {
        SpoolSpace s = space(16 * MIB);
        assertFalse(s.refusing());
        assertTrue(s.shortage().isEmpty());
        usable.set(10 * MIB);
        for (int i = 0; i < 5; i++) {
            s.sample();
        }
        assertTrue(s.refusing());
        assertEquals("insufficient spool space: 10485760 bytes (10.0 MiB) free, below queue.min-free-bytes "
                + "16777216 bytes (16.0 MiB)", s.shortage().orElseThrow());
        usable.set(40 * MIB);
        for (int i = 0; i < 5; i++) {
            s.sample();
        }
        assertFalse(s.refusing());
        assertEquals(2, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("low: queue.spool-dir /spool: insufficient spool space"), lines.get(0));
        assertTrue(lines.get(0).contains("452 4.3.1"), lines.get(0));
        assertTrue(lines.get(1).startsWith("recovered: queue.spool-dir /spool: 41943040 bytes (40.0 MiB) free again"),
                lines.get(1));
    }

    @Test
    void hoveringAtTheMarkDoesNotLogAPairPerSample() {
        SpoolSpace s = space(100 * MIB);
        for (int i = 0; i < 10; i++) {
            usable.set(i % 2 == 0 ? 100 * MIB - 1 : 100 * MIB + 1);
            s.sample();
            assertTrue(s.refusing(), "stays refusing until 5% above the mark");
        }
        usable.set(106 * MIB);
        s.sample();
        assertFalse(s.refusing());
        assertEquals(2, lines.size(), lines.toString());
    }

    @Test
    void bytesAcceptedSinceTheSampleCountAgainstIt() {
        SpoolSpace s = space(16 * MIB);
        s.accepted(80 * MIB);
        assertEquals(20 * MIB, s.freeBytes());
        assertFalse(s.refusing());
        s.accepted(5 * MIB);
        assertTrue(s.refusing(), "15 MiB left by the estimate");
        assertTrue(lines.isEmpty(), "transitions are logged by the sampler only");
        s.sample(); // the file system still says 100 MiB (say the accepts were undone)
        assertFalse(s.refusing());
    }

    @Test
    void zeroTurnsTheCheckOffAndAReloadTakesEffectAtOnce() {
        usable.set(1);
        SpoolSpace off = space(0);
        assertFalse(off.refusing());
        assertTrue(lines.isEmpty());
        off.minFreeBytes(16 * MIB);
        assertTrue(off.refusing());
        assertEquals(1, lines.size());
        off.minFreeBytes(0);
        assertFalse(off.refusing());
        assertEquals(2, lines.size());
        assertTrue(lines.get(1).contains("queue.min-free-bytes off"), lines.get(1));
    }

    @Test
    void aFailingSampleKeepsTheLastFigure() {
        AtomicInteger calls = new AtomicInteger();
        SpoolSpace s = new SpoolSpace(Path.of("/spool"), 16 * MIB, () -> {
            if (calls.incrementAndGet() > 1) {
                throw new IllegalStateException("stat failed");
            }
            return MIB;
        }, record);
        s.sample();
        s.sample();
        s.sample();
        assertTrue(s.refusing());
        assertEquals(MIB, s.freeBytes());
    }

    @Test
    void theRealFileSystemIsSampled(@TempDir Path dir) throws Exception {
        try (SpoolSpace s = SpoolSpace.watch(dir, 1, SpoolSpace.Transitions.NONE)) {
            assertTrue(s.freeBytes() > 0 && s.freeBytes() < Long.MAX_VALUE, "sampled at start: " + s.freeBytes());
            assertFalse(s.refusing());
        }
        try (SpoolSpace s = SpoolSpace.watch(dir, Long.MAX_VALUE / 2, SpoolSpace.Transitions.NONE)) {
            assertTrue(s.refusing(), "a start below the minimum refuses from the first accept");
        }
    }

    @Test
    void theCheckedQueueRefusesNewMailOnlyWhileShort() throws Exception {
        FakeQueue inner = new FakeQueue();
        SpoolSpace s = space(16 * MIB);
        SpaceCheckedQueue q = new SpaceCheckedQueue(inner, s);
        QueuedMessage m = TestClusters.message(new QueueIds().next(), 1000);
        assertFalse(q.full());
        assertSame(inner.done, q.accept(m));
        assertEquals(1, inner.accepts.get());
        assertEquals(100 * MIB - 1000, s.freeBytes());

        usable.set(MIB);
        s.sample();
        assertTrue(q.full(), "MAIL FROM answers 452");
        CompletableFuture<Void> refused = q.accept(m);
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, refused::get);
        assertInstanceOf(QueueFullException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("queue.min-free-bytes"), e.getCause().getMessage());
        assertEquals(1, inner.accepts.get(), "the queue never saw it");

        usable.set(100 * MIB);
        s.sample();
        assertFalse(q.full());
        inner.full = true;
        assertTrue(q.full(), "the queue's own high-water marks still count");
    }

    private static final class FakeQueue implements MessageQueue {
        final AtomicInteger accepts = new AtomicInteger();
        final CompletableFuture<Void> done = CompletableFuture.completedFuture(null);
        boolean full;

        @Override
        public QueueId newId() {
            return new QueueIds().next();
        }

        @Override
        public CompletableFuture<Void> accept(QueuedMessage message) {
            accepts.incrementAndGet();
            return done;
        }

        @Override
        public boolean full() {
            return full;
        }

        @Override
        public void start(DeliveryHandler handler) {
        }

        @Override
        public void close() {
        }
    }
}
