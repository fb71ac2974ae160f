package io.relay.queue;

import static io.relay.queue.TestClusters.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.core.DistributedObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bodies on disk, index in the cluster (issue 17): what a 250 promises is on the accepting
 * member's disk and on {@code backup-count} other members' disks, never in a cluster map;
 * a member's loss leaves every message deliverable from the copies, and the queue copies
 * again until each message has two live holders; a finished message's copies are released.
 */
class BodyReplicationTest {
    private final List<ClusterQueue> opened = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void closeAll() {
        for (ClusterQueue q : opened) {
            try {
                q.close();
            } catch (RuntimeException e) {
                // terminated in the test
            }
        }
    }

    private ClusterQueue open(ClusterSettings cluster, String spool) {
        ClusterQueue q = new ClusterQueue(ClusterMember.start(cluster), TestClusters.settings(dir.resolve(spool)));
        opened.add(q);
        return q;
    }

    private static Set<String> acceptAll(ClusterQueue queue, int n) throws Exception {
        Set<String> ids = new HashSet<>();
        List<CompletableFuture<Void>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            QueuedMessage m = TestClusters.message(queue.newId(), 4096);
            ids.add(m.id().value());
            futures.add(queue.accept(m));
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        return ids;
    }

    private static UUID uuid(ClusterQueue q) {
        return q.clusterMemberForTests().hazelcast().getCluster().getLocalMember().getUuid();
    }

    private static long liveHolders(QueueMeta m, Set<UUID> live) {
        return m.holders().stream().filter(live::contains).distinct().count();
    }

    @Test
    void everyBodyIsOnTwoDisksAndSurvivesTheLossOfTheMemberThatAcceptedIt() throws Exception {
        String name = TestClusters.clusterName();
        int pa = TestClusters.freePort();
        int pb = TestClusters.freePort();
        int pc = TestClusters.freePort();
        ClusterQueue a = open(TestClusters.alone(name, pa), "a");
        ClusterQueue b = open(TestClusters.joining(name, pb, pa), "b");
        ClusterQueue c = open(TestClusters.joining(name, pc, pa, pb), "c");
        TestClusters.RecordingHandler ha = new TestClusters.RecordingHandler();
        TestClusters.RecordingHandler hb = new TestClusters.RecordingHandler();
        TestClusters.RecordingHandler hc = new TestClusters.RecordingHandler();
        Stream.of(ha, hb, hc).forEach(h -> h.deferAll = true); // the upstream is down
        a.start(ha);
        b.start(hb);
        c.start(hc);
        await("three members, partitions safe", Duration.ofSeconds(30), () -> a.clusterMemberForTests().clusterSafe()
                && a.clusterMemberForTests().memberCount() == 3);

        Set<String> ids = acceptAll(a, 60);
        // what each 250 promised: on A's disk, and a copy fsync'd on one other member's disk
        assertEquals(60, a.journal().owedCount());
        assertEquals(60, b.copiesJournal().owedCount() + c.copiesJournal().owedCount());
        assertEquals(0, a.copiesJournal().owedCount());
        for (QueueView.Entry e : a.clusterEntries(null, null)) {
            assertEquals(2, e.meta().holders().size(), e.id() + " " + e.meta().holders());
            assertEquals(uuid(a), e.meta().holders().get(0));
            assertEquals("from@example.com", e.meta().sender());
        }
        // no message body in the cluster's heap: the index is the only queue map
        for (DistributedObject o : a.clusterMemberForTests().hazelcast().getDistributedObjects()) {
            assertFalse(o.getName().equals("relay-messages"), "a map of message bodies exists");
        }
        assertEquals(4096, a.find(ids.iterator().next()).orElseThrow().getValue().size());

        // A crashes: B and C take its partitions over, and copy again until each message has two holders
        a.clusterMemberForTests().terminate();
        a.close();
        Set<UUID> live = Set.of(uuid(b), uuid(c));
        await("every message on two live members' disks again", Duration.ofSeconds(60), () -> {
            List<QueueView.Entry> entries = b.clusterEntries(null, null);
            return entries.size() == 60 && entries.stream().allMatch(e -> liveHolders(e.meta(), live) == 2);
        });
        assertEquals(120, b.journal().owedCount() + b.copiesJournal().owedCount()
                + c.journal().owedCount() + c.copiesJournal().owedCount(), "two copies of each of the 60");

        // the upstream comes back: every message delivered once, from the survivors' disks
        hb.deferAll = false;
        hc.deferAll = false;
        await("all 60 delivered", Duration.ofSeconds(60), () -> hb.total() + hc.total() == 60);
        Set<String> delivered = new HashSet<>(hb.deliveries.keySet());
        delivered.addAll(hc.deliveries.keySet());
        assertEquals(ids, delivered);
        assertTrue(hb.noneTwice() && hc.noneTwice());
        assertTrue(hb.deliveries.keySet().stream().noneMatch(hc.deliveries::containsKey), "delivered twice");
        // and the finished messages' copies are released on both disks
        await("copies released", Duration.ofSeconds(30), () -> b.journal().owedCount() + b.copiesJournal().owedCount()
                + c.journal().owedCount() + c.copiesJournal().owedCount() == 0);
    }

    @Test
    void aCopyAloneBringsTheMessageBackAfterTheWholeClusterRestartsWithoutTheAcceptingDisk() throws Exception {
        String name = TestClusters.clusterName();
        int pa = TestClusters.freePort();
        int pb = TestClusters.freePort();
        ClusterQueue a = open(TestClusters.alone(name, pa), "a");
        ClusterQueue b = open(TestClusters.joining(name, pb, pa), "b");
        TestClusters.RecordingHandler ha = new TestClusters.RecordingHandler();
        TestClusters.RecordingHandler hb = new TestClusters.RecordingHandler();
        ha.deferAll = true;
        hb.deferAll = true;
        a.start(ha);
        b.start(hb);
        await("two members, partitions safe", Duration.ofSeconds(30), () -> a.clusterMemberForTests().clusterSafe()
                && a.clusterMemberForTests().memberCount() == 2);
        Set<String> ids = acceptAll(a, 20);
        assertEquals(20, b.copiesJournal().owedCount());
        a.clusterMemberForTests().terminate();
        b.clusterMemberForTests().terminate();
        a.close();
        b.close();
        // A's disk is gone for good; B comes back alone, as a new cluster
        try (Stream<Path> files = Files.walk(dir.resolve("a"))) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        ClusterQueue b2 = open(TestClusters.alone(name, TestClusters.freePort()), "b");
        TestClusters.RecordingHandler hb2 = new TestClusters.RecordingHandler();
        b2.start(hb2);
        b2.replayed().get(30, TimeUnit.SECONDS);
        await("all 20 delivered from the copies", Duration.ofSeconds(30), () -> hb2.total() == 20);
        assertEquals(ids, hb2.deliveries.keySet());
        assertTrue(hb2.noneTwice());
        await("copies released", Duration.ofSeconds(30), () -> b2.copiesJournal().owedCount() == 0);
    }
}
