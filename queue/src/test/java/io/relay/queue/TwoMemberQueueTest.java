package io.relay.queue;

import static io.relay.queue.TestClusters.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two real Hazelcast members in this JVM on 127.0.0.1, backupCount 1. */
class TwoMemberQueueTest {
    private final List<ClusterQueue> opened = new ArrayList<>();

    @TempDir
    Path spoolA;
    @TempDir
    Path spoolB;

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

    private ClusterQueue open(ClusterSettings cluster, Path spool) {
        ClusterQueue q = TestClusters.queue(ClusterMember.start(cluster), TestClusters.settings(spool));
        opened.add(q);
        return q;
    }

    /** Accepts n messages on {@code queue}; spread: with ids in any member's partitions, else the queue's own. */
    private static Set<String> acceptAll(ClusterQueue queue, int n, boolean spread) throws Exception {
        Set<String> ids = new HashSet<>();
        List<CompletableFuture<Void>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            QueuedMessage m = TestClusters.message(spread ? TestClusters.spreadId() : queue.newId(), 2048);
            ids.add(m.id().value());
            futures.add(queue.accept(m));
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        return ids;
    }

    @Test
    void newIdsFallInPartitionsTheirMemberOwns() throws Exception {
        String name = TestClusters.clusterName();
        int portA = TestClusters.freePort();
        int portB = TestClusters.freePort();
        ClusterQueue a = open(TestClusters.alone(name, portA), spoolA);
        ClusterQueue b = open(TestClusters.joining(name, portB, portA), spoolB);
        await("partitions settled", Duration.ofSeconds(30), () -> b.clusterMemberForTests().clusterSafe());
        for (ClusterQueue q : List.of(a, b)) {
            com.hazelcast.core.HazelcastInstance hz = q.clusterMemberForTests().hazelcast();
            String last = "";
            for (int i = 0; i < 500; i++) {
                String id = q.newId().value();
                assertTrue(hz.getPartitionService().getPartition(id).getOwner().localMember(),
                        id + " is owned by another member");
                assertTrue(id.compareTo(last) > 0, "ids stay increasing");
                last = id;
            }
        }
    }

    @Test
    void restartedMemberJoiningTheSameEpochDropsWhatOthersDelivered() throws Exception {
        String name = TestClusters.clusterName();
        int portA = TestClusters.freePort();
        int portB = TestClusters.freePort();
        ClusterQueue a = open(TestClusters.alone(name, portA), spoolA);
        TestClusters.RecordingHandler handlerA = new TestClusters.RecordingHandler();
        a.start(handlerA);
        ClusterQueue b = open(TestClusters.joining(name, portB, portA), spoolB);
        assertEquals(a.epoch(), b.epoch());
        await("partitions settled", Duration.ofSeconds(30), () -> b.clusterMemberForTests().clusterSafe());
        // B accepts (its spool owes them all) but never delivers, then crashes.
        Set<String> ids = acceptAll(b, 40, false);
        assertEquals(40, b.journal().owedCount());
        b.clusterMemberForTests().terminate();
        b.close();
        await("A delivers B's messages from the promoted backups", Duration.ofSeconds(40),
                () -> handlerA.total() == 40);
        assertEquals(ids, handlerA.deliveries.keySet());

        int portB2 = TestClusters.freePort();
        ClusterQueue b2 = open(TestClusters.joining(name, portB2, portA), spoolB);
        assertEquals(a.epoch(), b2.epoch(), "the cluster never went down entirely");
        TestClusters.RecordingHandler handlerB2 = new TestClusters.RecordingHandler();
        b2.start(handlerB2);
        b2.replayed().get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(0, b2.journal().owedCount(), "every spool entry was delivered elsewhere: dropped");
        Thread.sleep(500);
        assertEquals(0, handlerB2.total());
        assertEquals(40, handlerA.total());
        assertTrue(handlerA.noneTwice());
    }

    @Test
    void whenTheOwnerDiesTheOtherMemberDeliversItsMessages() throws Exception {
        String name = TestClusters.clusterName();
        int portA = TestClusters.freePort();
        int portB = TestClusters.freePort();
        ClusterQueue a = open(TestClusters.alone(name, portA), spoolA);
        ClusterQueue b = open(TestClusters.joining(name, portB, portA), spoolB);
        await("two members, partitions settled", Duration.ofSeconds(30),
                () -> a.clusterMemberForTests().memberCount() == 2 && a.clusterMemberForTests().clusterSafe());
        TestClusters.RecordingHandler handlerA = new TestClusters.RecordingHandler();
        TestClusters.RecordingHandler handlerB = new TestClusters.RecordingHandler();
        handlerB.deferAll = true; // B's next hop is down: its messages stay queued
        a.start(handlerA);
        b.start(handlerB);
        Set<String> ids = acceptAll(a, 60, true);
        await("B owns and has tried some", Duration.ofSeconds(10),
                () -> TestClusters.owned(b) > 0 && !handlerB.attemptTimes.isEmpty());
        long ownedByB = TestClusters.owned(b);
        await("A delivered its own", Duration.ofSeconds(10), () -> handlerA.total() == 60 - ownedByB);
        await("backups in sync", Duration.ofSeconds(10), () -> a.clusterMemberForTests().clusterSafe());
        b.clusterMemberForTests().terminate();
        b.close();
        await("A delivers the dead owner's messages", Duration.ofSeconds(40), () -> handlerA.total() == 60);
        assertEquals(ids, handlerA.deliveries.keySet());
        assertTrue(handlerA.noneTwice());
        await("store empty", Duration.ofSeconds(10), () -> a.clusterEntries().isEmpty());
    }

    @Test
    void messagesWhosePartitionWasLostComeBackFromTheAcceptingSpool() throws Exception {
        // No backups: when B dies, the partitions it owned are lost with everything in them.
        String name = TestClusters.clusterName();
        int portA = TestClusters.freePort();
        int portB = TestClusters.freePort();
        ClusterQueue a = open(new ClusterSettings(name, "127.0.0.1", portA, List.of(), 0), spoolA);
        TestClusters.RecordingHandler handlerA = new TestClusters.RecordingHandler();
        handlerA.deferAll = true;
        a.start(handlerA);
        ClusterQueue b = open(new ClusterSettings(name, "127.0.0.1", portB, List.of("127.0.0.1:" + portA), 0), spoolB);
        TestClusters.RecordingHandler handlerB = new TestClusters.RecordingHandler();
        handlerB.deferAll = true;
        b.start(handlerB);
        await("partitions settled", Duration.ofSeconds(30), () -> a.clusterMemberForTests().clusterSafe());
        // A accepts them all (its spool owes them); about half live in partitions B owns (as
        // after a migration: A's own ids would fall in its own partitions).
        Set<String> ids = acceptAll(a, 60, true);
        long onB = ids.stream().filter(id -> !a.clusterMemberForTests().hazelcast().getPartitionService()
                .getPartition(id).getOwner().localMember()).count();
        assertTrue(onB > 0, "some messages live on B");
        b.clusterMemberForTests().terminate();
        b.close();
        handlerA.deferAll = false;
        // A's store lost B's partitions; A's spool still owes those messages and puts them back.
        await("every message delivered, those of the lost partitions from A's spool", Duration.ofSeconds(90),
                () -> handlerA.deliveries.keySet().containsAll(ids));
        System.out.printf("lost partitions: %d of 60 messages were in them; all 60 delivered%n", onB);
    }
}
