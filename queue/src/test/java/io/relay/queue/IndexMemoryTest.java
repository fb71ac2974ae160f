package io.relay.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The index-memory mark: the one mark that follows the heap, refusing before the heap runs out. */
class IndexMemoryTest {
    @TempDir
    Path spool;

    @Test
    void estimateCountsOwnedEntriesAndTheBackupsThisMemberKeepsForOthers() {
        int[] members = {1};
        IndexMemory index = new IndexMemory(1_000_000, 1, () -> members[0]);
        assertEquals(650L * 1000, index.estimate(1000), "alone: no backups held");
        members[0] = 3;
        assertEquals(1000L * 1000, index.estimate(1000), "one backup entry held per owned entry");
        assertFalse(index.above(1000));
        assertTrue(index.above(1001));
        // -Xmx1g, one node: above a million 4 KB messages fit under the default mark
        members[0] = 1;
        assertFalse(new IndexMemory(QueueSettings.defaultMaxIndexMemory(1L << 30), 1, () -> 1).above(1_100_000));
    }

    @Test
    void aQueueAboveItsIndexMarkRefusesNewMailAndSaysFull() throws Exception {
        QueueSettings settings = new QueueSettings(spool, Duration.ofMinutes(10), Duration.ofMinutes(20),
                Duration.ofDays(1), 2, Long.MAX_VALUE, Long.MAX_VALUE, 10 * IndexMemory.OWNED_BYTES);
        try (ClusterQueue q = TestClusters.queue(ClusterMember.start(TestClusters.alone(TestClusters.clusterName(),
                TestClusters.freePort())), settings)) {
            TestClusters.RecordingHandler h = new TestClusters.RecordingHandler();
            h.deferAll = true;
            q.start(h);
            for (int i = 0; i < 10; i++) {
                q.accept(TestClusters.message(q.newId(), 4096)).get(10, TimeUnit.SECONDS);
            }
            assertTrue(q.full(), "at the mark: MAIL FROM gets 452 and /readyz 503");
            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> q.accept(TestClusters.message(q.newId(), 100)).get(10, TimeUnit.SECONDS));
            assertInstanceOf(QueueFullException.class, refused.getCause());
            assertTrue(refused.getCause().getMessage().contains("index"), refused.getCause().getMessage());
            assertEquals(10, TestClusters.owned(q), "nothing accepted was dropped");
        }
    }
}
