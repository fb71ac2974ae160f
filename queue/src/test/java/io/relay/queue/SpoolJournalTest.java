package io.relay.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpoolJournalTest {
    private static final String EPOCH = "epoch-1";
    private final QueueIds ids = new QueueIds();

    @Test
    void concurrentAcceptsShareFsyncsAndCompleteOnlyAfterOne(@TempDir Path dir) throws Exception {
        AtomicLong fsyncs = new AtomicLong();
        int threads = 64;
        int perThread = 40;
        List<CompletableFuture<Void>> futures = new ArrayList<>();
        AtomicInteger completedBeforeItsFsync = new AtomicInteger();
        try (SpoolJournal journal = SpoolJournal.open(dir, n -> fsyncs.incrementAndGet())) {
            long forcesAtOpen = journal.forceCount();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Thread w = new Thread(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < perThread; i++) {
                        long forcesBeforeSubmit = journal.forceCount();
                        CompletableFuture<Void> f = journal.accept(TestClusters.message(ids.next(), 4096), EPOCH);
                        // Completion must follow a force that started after this append was submitted.
                        f.thenRun(() -> {
                            if (journal.forceCount() <= forcesBeforeSubmit) {
                                completedBeforeItsFsync.incrementAndGet();
                            }
                        });
                        synchronized (futures) {
                            futures.add(f);
                        }
                        f.join();
                    }
                });
                w.start();
                workers.add(w);
            }
            go.countDown();
            for (Thread w : workers) {
                w.join(60_000);
            }
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            assertEquals(threads * perThread, futures.size());
            assertTrue(futures.stream().allMatch(f -> f.isDone() && !f.isCompletedExceptionally()));
            assertEquals(0, completedBeforeItsFsync.get());
            long appends = threads * perThread;
            long forces = journal.forceCount() - forcesAtOpen;
            assertTrue(forces > 0, "no fsync at all");
            assertTrue(forces * 4 < appends, "group commit should share fsyncs: " + forces + " for " + appends);
            assertEquals(journal.forceCount(), fsyncs.get(), "every force reported to the latency hook");
            assertEquals(appends, journal.owedCount());
        }
    }

    @Test
    void replayReturnsAcceptedNotDoneAndReadsBodiesBack(@TempDir Path dir) throws Exception {
        List<QueuedMessage> sent = new ArrayList<>();
        try (SpoolJournal journal = SpoolJournal.open(dir, n -> { })) {
            for (int i = 0; i < 10; i++) {
                QueuedMessage m = TestClusters.message(ids.next(), 100 + i, "a@x.test", "b@y.test");
                sent.add(m);
                journal.accept(m, EPOCH).get(10, TimeUnit.SECONDS);
            }
            for (int i = 0; i < 4; i++) {
                journal.done(sent.get(i).id());
            }
            journal.deferred(sent.get(5).id(), 2, 12345L, List.of("b@y.test"));
        }
        try (SpoolJournal journal = SpoolJournal.open(dir, n -> { })) {
            List<SpoolJournal.OwedEntry> owed = journal.owed();
            assertEquals(6, owed.size());
            for (int i = 0; i < 6; i++) {
                SpoolJournal.OwedEntry entry = owed.get(i);
                QueuedMessage expected = sent.get(4 + i);
                assertEquals(expected.id(), entry.id());
                assertEquals(EPOCH, entry.epoch());
                QueuedMessage back = journal.read(entry);
                assertEquals(expected.envelope(), back.envelope());
                assertTrue(Arrays.equals(expected.content(), back.content()));
            }
            assertEquals(new SpoolJournal.Deferral(2, 12345L, List.of("b@y.test")), owed.get(1).lastDeferral());
        }
    }

    @Test
    void tornTailIsToleratedAndIntactRecordsSurvive(@TempDir Path dir) throws Exception {
        List<QueueId> sent = new ArrayList<>();
        try (SpoolJournal journal = SpoolJournal.open(dir, n -> { })) {
            for (int i = 0; i < 5; i++) {
                QueuedMessage m = TestClusters.message(ids.next(), 2000);
                sent.add(m.id());
                journal.accept(m, EPOCH).get(10, TimeUnit.SECONDS);
            }
        }
        Path segment;
        try (var files = Files.list(dir)) {
            segment = files.filter(p -> p.getFileName().toString().startsWith("spool-")).sorted()
                    .reduce((a, b) -> b).orElseThrow();
        }
        // Crash in the middle of the last record: cut it short, then add a garbage frame header.
        long size = Files.size(segment);
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
            ch.truncate(size - 700);
        }
        try (SpoolJournal journal = SpoolJournal.open(dir, n -> { })) {
            assertEquals(sent.subList(0, 4), journal.owed().stream().map(SpoolJournal.OwedEntry::id).toList());
            journal.accept(TestClusters.message(ids.next(), 10), EPOCH).get(10, TimeUnit.SECONDS);
        }
        // A flipped byte inside the second record stops that segment's replay at the second record.
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            long pos = 8 + (Files.size(segment) - 8) / 4 + 100;
            ch.read(b, pos);
            b.flip();
            byte flipped = (byte) (b.get() ^ 0x55);
            ch.write(ByteBuffer.wrap(new byte[] {flipped}), pos);
        }
        try (SpoolJournal journal = SpoolJournal.open(dir, n -> { })) {
            List<QueueId> owed = journal.owed().stream().map(SpoolJournal.OwedEntry::id).toList();
            assertTrue(owed.contains(sent.get(0)));
            assertFalse(owed.contains(sent.get(3)), "replay must stop at the corrupt record: " + owed);
            assertEquals(2, owed.size(), "first record of the damaged segment plus the later segment's record");
        }
    }

    @Test
    void segmentsRollAndAreDeletedOnceEverythingInThemIsDone(@TempDir Path dir) throws Exception {
        try (SpoolJournal journal = SpoolJournal.open(dir, 64 * 1024, n -> { })) {
            QueuedMessage pinned = TestClusters.message(ids.next(), 1000);
            journal.accept(pinned, EPOCH).get(10, TimeUnit.SECONDS);
            for (int i = 0; i < 200; i++) {
                QueuedMessage m = TestClusters.message(ids.next(), 4000);
                journal.accept(m, EPOCH).get(10, TimeUnit.SECONDS);
                journal.done(m.id());
            }
            journal.flush().get(10, TimeUnit.SECONDS);
            // 800 KB went through 64 KB segments; only the current one (holding the pinned,
            // copied-forward ACCEPT) and at most one more may remain.
            assertTrue(journal.segmentFiles().size() <= 2, "segments left: " + journal.segmentFiles());
            assertEquals(1, journal.owedCount());
        }
        try (SpoolJournal journal = SpoolJournal.open(dir, 64 * 1024, n -> { })) {
            assertEquals(1, journal.owed().size());
            assertEquals(1000, journal.read(journal.owed().get(0)).size());
        }
    }

    @Test
    void holdRecordsReplayAndFollowAnEntryCopiedForwardOrReAccepted(@TempDir Path dir) throws Exception {
        QueuedMessage kept = TestClusters.message(ids.next(), 1000);
        QueuedMessage released = TestClusters.message(ids.next(), 1000);
        QueuedMessage reAccepted = TestClusters.message(ids.next(), 1000);
        QueuedMessage finished = TestClusters.message(ids.next(), 1000);
        QueuedMessage plain = TestClusters.message(ids.next(), 1000);
        try (SpoolJournal journal = SpoolJournal.open(dir, 64 * 1024, n -> { })) {
            for (QueuedMessage m : List.of(kept, released, reAccepted, finished, plain)) {
                journal.accept(m, EPOCH).get(10, TimeUnit.SECONDS);
                journal.held(m.id(), m != plain);
            }
            journal.held(released.id(), false);
            journal.done(finished.id());
            journal.accept(reAccepted, "epoch-2");
            // a hold for an id this spool does not owe is not written
            journal.held(ids.next(), true);
            journal.flush().get(10, TimeUnit.SECONDS);
            assertTrue(journal.isHeld(kept.id()));
            assertFalse(journal.isHeld(released.id()));
            // roll the segments over many times: the owed ACCEPTs are copied forward, the hold with them
            for (int i = 0; i < 200; i++) {
                QueuedMessage m = TestClusters.message(ids.next(), 4000);
                journal.accept(m, EPOCH).get(10, TimeUnit.SECONDS);
                journal.done(m.id());
            }
            journal.flush().get(10, TimeUnit.SECONDS);
            assertTrue(journal.segmentFiles().size() <= 2, "segments left: " + journal.segmentFiles());
        }
        try (SpoolJournal journal = SpoolJournal.open(dir, 64 * 1024, n -> { })) {
            java.util.Map<QueueId, Boolean> held = new java.util.HashMap<>();
            journal.owed().forEach(e -> held.put(e.id(), e.held()));
            assertEquals(java.util.Map.of(kept.id(), true, released.id(), false, reAccepted.id(), false,
                    plain.id(), false), held);
            assertTrue(journal.isHeld(kept.id()));
            assertFalse(journal.isHeld(plain.id()));
        }
    }
}
