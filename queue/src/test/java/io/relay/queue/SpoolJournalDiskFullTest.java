package io.relay.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.queue.testing.Tmpfs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The spool on a file system that is really full (a small tmpfs): an append that does not
 * fit fails (so the SMTP server answers 451, not 250) and leaves nothing behind that would
 * hide later records from a replay; the journal keeps working once space is back.
 */
class SpoolJournalDiskFullTest {
    private static final String EPOCH = "epoch-1";
    private final QueueIds ids = new QueueIds();

    @Test
    void anAcceptThatDoesNotFitFailsAndTheRecordsAfterItSurviveAReplay(@TempDir Path tmp) throws Exception {
        try (Tmpfs fs = Tmpfs.mount(tmp.resolve("spool"), "4m")) {
            QueuedMessage before = TestClusters.message(ids.next(), 2000);
            QueuedMessage tooBig = TestClusters.message(ids.next(), 200_000);
            QueuedMessage after = TestClusters.message(ids.next(), 2000);
            try (SpoolJournal journal = SpoolJournal.open(fs.dir(), n -> { })) {
                journal.accept(before, EPOCH).get(10, TimeUnit.SECONDS);
                Path filler = fs.fill("filler", 32 * 1024); // room for a part of the big one only
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> journal.accept(tooBig, EPOCH).get(10, TimeUnit.SECONDS));
                assertTrue(String.valueOf(e.getCause().getMessage()).contains("No space left"), e.toString());
                Files.delete(filler);
                journal.accept(after, EPOCH).get(10, TimeUnit.SECONDS);
            }
            try (SpoolJournal replayed = SpoolJournal.open(fs.dir(), n -> { })) {
                assertEquals(Set.of(before.id(), after.id()), owedIds(replayed),
                        "a torn ACCEPT must not hide the ACCEPT written after it");
                SpoolJournal.OwedEntry last = replayed.owed().stream().filter(o -> o.id().equals(after.id()))
                        .findFirst().orElseThrow();
                assertEquals(after.envelope(), replayed.read(last).envelope());
            }
        }
    }

    @Test
    void aRollOnAFullDiskKeepsTheJournalWritable(@TempDir Path tmp) throws Exception {
        try (Tmpfs fs = Tmpfs.mount(tmp.resolve("spool"), "4m")) {
            QueuedMessage first = TestClusters.message(ids.next(), 20_000);
            QueuedMessage second = TestClusters.message(ids.next(), 20_000);
            QueuedMessage refused = TestClusters.message(ids.next(), 20_000);
            QueuedMessage later = TestClusters.message(ids.next(), 20_000);
            try (SpoolJournal journal = SpoolJournal.open(fs.dir(), 48 * 1024, n -> { })) {
                journal.accept(first, EPOCH).get(10, TimeUnit.SECONDS);
                journal.accept(second, EPOCH).get(10, TimeUnit.SECONDS);
                Path filler = fs.fill("filler", 0);
                // the next ACCEPT needs a new segment, which the full disk cannot hold
                assertThrows(ExecutionException.class, () -> journal.accept(refused, EPOCH).get(10, TimeUnit.SECONDS));
                // a delivered message's DONE still goes in (past the segment's soft limit)
                journal.done(first.id());
                journal.flush().get(10, TimeUnit.SECONDS);
                assertTrue(!journal.owes(first.id()), "DONE written on the full disk");
                Files.delete(filler);
                journal.accept(later, EPOCH).get(10, TimeUnit.SECONDS);
            }
            try (SpoolJournal replayed = SpoolJournal.open(fs.dir(), 48 * 1024, n -> { })) {
                assertEquals(Set.of(second.id(), later.id()), owedIds(replayed));
            }
        }
    }

    private static Set<QueueId> owedIds(SpoolJournal journal) {
        return journal.owed().stream().map(SpoolJournal.OwedEntry::id).collect(Collectors.toSet());
    }
}
