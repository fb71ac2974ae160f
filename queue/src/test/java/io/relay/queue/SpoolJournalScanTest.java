package io.relay.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal serves appends while the segments it found at open are still being scanned
 * (the scan is held at its start by a latch: what is checked is the order of events, not
 * how long anything takes), and a close or a crash during the scan loses nothing.
 */
class SpoolJournalScanTest {
    private static final String EPOCH = "epoch-1";
    private static final long SEGMENT = 64 * 1024;
    private final QueueIds ids = new QueueIds();

    /** 300 messages over some twenty 64 KB segments; the first 50 finished, #100 held, #101 deferred. */
    private List<QueuedMessage> fill(Path dir) throws Exception {
        List<QueuedMessage> sent = new ArrayList<>();
        try (SpoolJournal journal = SpoolJournal.open(dir, SEGMENT, n -> { })) {
            List<CompletableFuture<Void>> accepts = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                QueuedMessage m = TestClusters.message(ids.next(), 4000);
                sent.add(m);
                accepts.add(journal.accept(m, EPOCH));
            }
            CompletableFuture.allOf(accepts.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 50; i++) {
                journal.done(sent.get(i).id());
            }
            journal.held(sent.get(100).id(), true);
            journal.deferred(sent.get(101).id(), 3, 777L, List.of("to@example.org"));
            journal.flush().get(10, TimeUnit.SECONDS);
        }
        return sent;
    }

    private static Set<QueueId> owedIds(SpoolJournal journal) {
        Set<QueueId> out = new HashSet<>();
        journal.owed().forEach(e -> out.add(e.id()));
        return out;
    }

    @Test
    void acceptsAndFinishesWhileTheOldSegmentsAreStillBeingScanned(@TempDir Path dir) throws Exception {
        List<QueuedMessage> old = fill(dir);
        List<Path> oldSegments;
        try (Stream<Path> files = Files.list(dir)) {
            oldSegments = files.filter(p -> p.getFileName().toString().startsWith("spool-")).toList();
        }
        assertTrue(oldSegments.size() > 10, "segments: " + oldSegments.size());
        CountDownLatch scanMayStart = new CountDownLatch(1);
        List<QueuedMessage> fresh = new ArrayList<>();
        try (SpoolJournal journal = SpoolJournal.open(dir, SEGMENT, n -> { }, () -> await(scanMayStart))) {
            assertFalse(journal.scanned(), "the scan is held at its start");
            // new mail is accepted (fsync'd) and rolls segments: nothing waits for the scan
            for (int i = 0; i < 40; i++) {
                QueuedMessage m = TestClusters.message(ids.next(), 4000);
                fresh.add(m);
                journal.accept(m, EPOCH).get(10, TimeUnit.SECONDS);
            }
            assertTrue(journal.owes(fresh.get(0).id()), "a message accepted since open is known at once");
            journal.done(fresh.get(0).id());
            // records for ids only the scan will know: written, applied when it is done
            assertTrue(journal.mayOwe(old.get(60).id()));
            journal.done(old.get(60).id());
            journal.held(old.get(61).id(), true);
            journal.held(old.get(100).id(), false);
            journal.deferred(old.get(62).id(), 5, 999L, List.of("to@example.org"));
            journal.accept(old.get(63), "epoch-2").get(10, TimeUnit.SECONDS); // re-accepted since open
            journal.flush().get(10, TimeUnit.SECONDS);
            assertFalse(journal.scanned(), "all of that while the scan had not started");
            assertTrue(journal.segmentFiles().containsAll(oldSegments), "no old segment goes before the scan is done");

            scanMayStart.countDown();
            Set<QueueId> owed = owedIds(journal);
            assertTrue(journal.scanned());
            // owed(): what the old segments hold, with what was written since open applied
            Set<QueueId> expected = new HashSet<>();
            for (int i = 50; i < 300; i++) {
                expected.add(old.get(i).id());
            }
            expected.remove(old.get(60).id());
            expected.remove(old.get(63).id()); // its newer ACCEPT is not in an old segment
            assertEquals(expected, owed);
            SpoolJournal.OwedEntry deferred = journal.owed().stream()
                    .filter(e -> e.id().equals(old.get(62).id())).findFirst().orElseThrow();
            assertEquals(new SpoolJournal.Deferral(5, 999L, List.of("to@example.org")), deferred.lastDeferral());
            assertFalse(journal.owes(old.get(60).id()));
            assertFalse(journal.owes(old.get(10).id()));
            assertTrue(journal.owes(old.get(63).id()));
            assertFalse(journal.owes(fresh.get(0).id()));
            assertTrue(journal.isHeld(old.get(61).id()));
            assertFalse(journal.isHeld(old.get(100).id()));
            assertEquals(249 + 39, journal.owedCount());
            assertEquals(old.get(200).size(), journal.readOwed(old.get(200).id()).orElseThrow().size());
        }
        // and the next start finds the same
        try (SpoolJournal journal = SpoolJournal.open(dir, SEGMENT, n -> { })) {
            assertEquals(249 + 39, journal.owed().size());
            assertFalse(journal.owes(old.get(60).id()));
            assertTrue(journal.isHeld(old.get(61).id()));
            assertFalse(journal.isHeld(old.get(100).id()));
            SpoolJournal.OwedEntry reAccepted = journal.owed().stream()
                    .filter(e -> e.id().equals(old.get(63).id())).findFirst().orElseThrow();
            assertEquals("epoch-2", reAccepted.epoch());
        }
    }

    @Test
    void aCloseOrACrashDuringTheScanLosesNothing(@TempDir Path dir, @TempDir Path crashCopy) throws Exception {
        List<QueuedMessage> old = fill(dir);
        CountDownLatch scanMayStart = new CountDownLatch(1);
        List<QueuedMessage> fresh = new ArrayList<>();
        SpoolJournal journal = SpoolJournal.open(dir, SEGMENT, n -> { }, () -> await(scanMayStart));
        try {
            for (int i = 0; i < 40; i++) {
                QueuedMessage m = TestClusters.message(ids.next(), 4000);
                fresh.add(m);
                journal.accept(m, EPOCH).get(10, TimeUnit.SECONDS);
            }
            journal.done(old.get(70).id());
            journal.flush().get(10, TimeUnit.SECONDS);
            // a crash now (kill -9): the disk as it is, copied while the journal is still open
            try (Stream<Path> files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    if (Files.isRegularFile(p)) {
                        Files.copy(p, crashCopy.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        } finally {
            journal.close(); // before the scan ran
            scanMayStart.countDown();
        }
        Set<QueueId> expected = new HashSet<>();
        for (int i = 50; i < 300; i++) {
            expected.add(old.get(i).id());
        }
        expected.remove(old.get(70).id());
        fresh.forEach(m -> expected.add(m.id()));
        for (Path spool : List.of(dir, crashCopy)) {
            try (SpoolJournal again = SpoolJournal.open(spool, SEGMENT, n -> { })) {
                assertEquals(expected, owedIds(again), "after " + (spool == dir ? "a close" : "a crash"));
                assertTrue(again.isHeld(old.get(100).id()));
                for (QueuedMessage m : List.of(old.get(299), fresh.get(39))) {
                    assertEquals(m.size(), again.readOwed(m.id()).orElseThrow().size());
                }
            }
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
