package io.relay.queue;

import static io.relay.queue.TestClusters.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Operator changes on deferred mail in a real two-member cluster (queue ids spread over
 * both owners), run from member A: hold keeps exactly the selected messages from being
 * attempted, release and retry make the owner attempt at once (long before the backoff),
 * delete removes exactly the selected ones from both maps, leaves tombstones, and a
 * delivery attempt running during the delete does not write the state back.
 */
class QueueOperatorTest {
    private final List<ClusterQueue> opened = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void closeAll() {
        for (ClusterQueue q : opened) {
            try {
                q.close();
            } catch (RuntimeException e) {
                // already closed
            }
        }
    }

    @Test
    void holdReleaseRetryAndDeleteTouchExactlyTheSelectedMessages() throws Exception {
        // a long backoff: without retry, nothing is attempted twice during the test
        Members m2 = twoMembers(settings("a", 1000, 1L << 30), settings("b", 1000, 1L << 30),
                "two members, partitions settled");
        ClusterQueue a = m2.a();
        ClusterQueue b = m2.b();
        TestClusters.RecordingHandler ha = deferring();
        TestClusters.RecordingHandler hb = deferring();
        a.start(ha);
        b.start(hb);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            QueuedMessage m = TestClusters.message(TestClusters.spreadId(), 200, "r" + i + "@x.test");
            ids.add(m.id().value());
            a.accept(m).get(10, TimeUnit.SECONDS);
        }
        await("each attempted once", Duration.ofSeconds(20),
                () -> a.clusterEntries().stream().filter(e -> e.meta().attempts() == 1).count() == 12);
        await("entries on both owners", Duration.ofSeconds(20),
                () -> TestClusters.owned(a) > 0 && TestClusters.owned(b) > 0);

        List<String> held = ids.subList(0, 3);
        assertEquals(held, a.hold(held, n -> { }));
        assertEquals(List.of(), a.hold(held, n -> { }), "already held: nothing touched");
        assertEquals(Set.copyOf(held), heldIds(b));

        // retry all: the nine not held are attempted again at once, the held ones are not
        assertEquals(9, a.retry(ids, n -> { }).size());
        await("nine attempted twice", Duration.ofSeconds(20), () -> attempts(a, 2) == 9);
        Thread.sleep(500);
        for (QueueView.Entry e : a.clusterEntries()) {
            assertEquals(held.contains(e.id().value()) ? 1 : 2, e.meta().attempts(), e.id().value());
        }

        // release: due again at their old time (10 min away); retry then attempts them at once
        assertEquals(held, a.release(held, n -> { }));
        assertEquals(Set.of(), heldIds(a));
        assertEquals(3, a.retry(held, n -> { }).size());
        await("the released three attempted", Duration.ofSeconds(20), () -> attempts(a, 2) == 12);

        // delete two: gone from both maps, tombstones written; the others stay
        List<String> gone = List.of(ids.get(5), ids.get(9));
        assertEquals(gone, a.delete(new ArrayList<>(List.of(ids.get(5), ids.get(9), "0000000000NOSUCHID")), n -> { }));
        assertEquals(10, a.clusterEntries().size());
        for (String id : gone) {
            assertTrue(a.find(id).isEmpty());
            assertTrue(a.clusterMemberForTests().hazelcast().getMap(ClusterQueue.DONE_MAP).containsKey(id));
        }
        await("owners untracked the deleted", Duration.ofSeconds(10),
                () -> TestClusters.owned(a) + TestClusters.owned(b) == 10);

        // the upstream recovers: retry delivers the ten at once, never the deleted two
        ha.deferAll = false;
        hb.deferAll = false;
        assertEquals(10, a.retry(ids, n -> { }).size());
        await("ten delivered", Duration.ofSeconds(20), () -> ha.total() + hb.total() == 10);
        Thread.sleep(500);
        Set<String> delivered = new java.util.HashSet<>(ha.deliveries.keySet());
        delivered.addAll(hb.deliveries.keySet());
        assertEquals(10, delivered.size());
        assertTrue(gone.stream().noneMatch(delivered::contains));
        assertEquals(0, a.clusterEntries().size());
    }

    /**
     * A hold and a delete made from either member are written to the spool of the member
     * that accepted each message, so after both members crash and a new cluster forms
     * (new epoch: the spools re-enqueue what they owe) the held messages are held, the
     * deleted ones stay deleted, and the held ones go out only once released.
     */
    @Test
    void holdAndDeleteOutliveACrashOfTheWholeCluster() throws Exception {
        QueueSettings sa = settings("a", 1000, 1L << 30);
        QueueSettings sb = settings("b", 1000, 1L << 30);
        Members first = twoMembers(sa, sb, "two members, partitions settled");
        ClusterQueue a = first.a();
        ClusterQueue b = first.b();
        TestClusters.RecordingHandler ha = deferring();
        TestClusters.RecordingHandler hb = deferring();
        a.start(ha);
        b.start(hb);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            ClusterQueue via = i % 2 == 0 ? a : b;
            QueuedMessage m = TestClusters.message(via.newId(), 200, "r" + i + "@x.test");
            ids.add(m.id().value());
            via.accept(m).get(10, TimeUnit.SECONDS);
        }
        await("each attempted once", Duration.ofSeconds(20),
                () -> a.clusterEntries().stream().filter(e -> e.meta().attempts() == 1).count() == 12);
        assertEquals(List.of("x.test"), a.clusterEntries().get(0).meta().nextHops());
        // held: two accepted by A, two by B; deleted: one of each; all from one member or the other
        List<String> held = List.of(ids.get(0), ids.get(1), ids.get(2), ids.get(3));
        List<String> deleted = List.of(ids.get(4), ids.get(5));
        assertEquals(held, a.hold(held, n -> { }));
        assertEquals(deleted, b.delete(deleted, n -> { }));
        assertEquals(Set.copyOf(held), a.select("hold", null).stream().collect(Collectors.toSet()));
        assertEquals(6, a.select("deferred", "X.TEST").size());

        // the whole cluster crashes: no graceful leave, the store is gone
        for (ClusterQueue q : List.of(a, b)) {
            q.clusterMemberForTests().hazelcast().getLifecycleService().terminate();
        }
        a.close();
        b.close();

        Members again = twoMembers(sa, sb, "two members again");
        ClusterQueue a2 = again.a();
        ClusterQueue b2 = again.b();
        TestClusters.RecordingHandler ha2 = new TestClusters.RecordingHandler();
        TestClusters.RecordingHandler hb2 = new TestClusters.RecordingHandler();
        a2.start(ha2);
        b2.start(hb2);
        await("the ten not deleted are back", Duration.ofSeconds(20), () -> a2.clusterEntries().size()
                + ha2.total() + hb2.total() == 10);
        assertEquals(Set.copyOf(held), heldIds(a2), "held after the restart");
        // some come back with their deferral (10 min away): make them due now; held ones stay held
        a2.retry(ids, n -> { });
        await("the six not held delivered", Duration.ofSeconds(20), () -> ha2.total() + hb2.total() == 6);
        Thread.sleep(1000);
        Set<String> delivered = new java.util.HashSet<>(ha2.deliveries.keySet());
        delivered.addAll(hb2.deliveries.keySet());
        assertEquals(Set.copyOf(ids.subList(6, 12)), delivered, "neither held nor deleted ones delivered");

        assertEquals(held, b2.release(held, n -> { }));
        a2.retry(held, n -> { }); // those that came back with no deferral are due at once anyway
        await("the released four delivered", Duration.ofSeconds(20), () -> ha2.total() + hb2.total() == 10);
        delivered.addAll(ha2.deliveries.keySet());
        delivered.addAll(hb2.deliveries.keySet());
        assertTrue(deleted.stream().noneMatch(delivered::contains), "deleted ones never delivered");
        assertTrue(ha2.noneTwice() && hb2.noneTwice());
        await("queue empty", Duration.ofSeconds(10), () -> a2.clusterEntries().isEmpty());
    }

    /**
     * A measurement, not part of the suite ({@code -Drelay.bench.queueMessages=N}): N deferred
     * messages on two members; times the selection on the owners and hold, release and delete
     * of all of them, against the way the first version did it (every state to one member,
     * one map call per id for the tombstone and the body).
     */
    @Test
    void bulkChangesOnAManyMessageQueue() throws Exception {
        int total = Integer.getInteger("relay.bench.queueMessages", 0);
        org.junit.jupiter.api.Assumptions.assumeTrue(total > 0, "set -Drelay.bench.queueMessages=N to measure");
        Members pair = twoMembers(settings("a", 1_000_000, 1L << 32), settings("b", 1_000_000, 1L << 32),
                "two members");
        ClusterQueue a = pair.a();
        ClusterQueue b = pair.b();
        TestClusters.RecordingHandler h = deferring();
        a.start(h);
        b.start(h);
        for (int round = 0; round < 2; round++) {
            long t0 = System.nanoTime();
            List<java.util.concurrent.CompletableFuture<Void>> accepts = new ArrayList<>();
            for (int i = 0; i < total; i++) {
                ClusterQueue via = i % 2 == 0 ? a : b;
                accepts.add(via.accept(TestClusters.message(via.newId(), 300, "r" + i + "@x.test")));
                if (accepts.size() >= 2000) {
                    java.util.concurrent.CompletableFuture.allOf(accepts.toArray(java.util.concurrent.CompletableFuture[]::new)).join();
                    accepts.clear();
                }
            }
            java.util.concurrent.CompletableFuture.allOf(accepts.toArray(java.util.concurrent.CompletableFuture[]::new)).join();
            System.out.printf("bench: %d accepted in %d ms%n", total, (System.nanoTime() - t0) / 1_000_000);
            await("all attempted once", Duration.ofMinutes(10), () -> a.select("deferred", null).size() == total);
            if (round == 0) {
                var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                        .getOperatingSystemMXBean();
                long idle0 = os.getProcessCpuTime();
                Thread.sleep(10_000);
                System.out.printf("bench: cpu of this JVM idle for 10 s with %d queued: %d ms%n", total,
                        (os.getProcessCpuTime() - idle0) / 1_000_000);
                long cpu0 = os.getProcessCpuTime();
                long s = System.nanoTime();
                List<String> ids = a.select(null, null);
                long selected = System.nanoTime();
                List<String> held = a.hold(ids, n -> { });
                long h1 = System.nanoTime();
                List<String> released = a.release(ids, n -> { });
                long r1 = System.nanoTime();
                long cpu1 = os.getProcessCpuTime();
                List<String> gone = a.delete(ids, n -> { });
                long d1 = System.nanoTime();
                System.out.printf("bench: cpu of this JVM (both members): select+hold+release %d ms, delete %d ms%n",
                        (cpu1 - cpu0) / 1_000_000, (os.getProcessCpuTime() - cpu1) / 1_000_000);
                System.out.printf("bench: %d messages: select %d ms, hold %d ms (%d), release %d ms (%d), delete %d ms (%d)%n",
                        total, (selected - s) / 1_000_000, (h1 - selected) / 1_000_000, held.size(),
                        (r1 - h1) / 1_000_000, released.size(), (d1 - r1) / 1_000_000, gone.size());
                assertEquals(total, gone.size());
            } else {
                // as the first version: every state to this member, per-id tombstone and body calls
                var hz = a.clusterMemberForTests().hazelcast();
                com.hazelcast.map.IMap<String, byte[]> meta = hz.getMap(ClusterMember.META_MAP);
                com.hazelcast.map.IMap<String, Long> done = hz.getMap(ClusterQueue.DONE_MAP);
                long s = System.nanoTime();
                List<String> ids = a.clusterEntries().stream().map(e -> e.id().value()).toList();
                long selected = System.nanoTime();
                int n = 0;
                for (int i = 0; i < ids.size(); i += 1000) {
                    Set<String> batch = new java.util.LinkedHashSet<>(ids.subList(i, Math.min(ids.size(), i + 1000)));
                    List<java.util.concurrent.CompletableFuture<Void>> stones = new ArrayList<>();
                    for (String id : batch) {
                        stones.add(done.setAsync(id, 1L, 5, TimeUnit.MINUTES).toCompletableFuture());
                    }
                    java.util.concurrent.CompletableFuture.allOf(stones.toArray(java.util.concurrent.CompletableFuture[]::new)).join();
                    var changed = meta.executeOnKeys(batch, new QueueOps.Change(QueueOps.Op.DELETE, System.currentTimeMillis()));
                    for (String id : batch) {
                        if (changed.get(id) != null) {
                            n++;
                        }
                    }
                }
                long d1 = System.nanoTime();
                System.out.printf("bench: %d messages, first version: select %d ms, delete %d ms (%d)%n", total,
                        (selected - s) / 1_000_000, (d1 - selected) / 1_000_000, n);
            }
            await("empty", Duration.ofSeconds(60), () -> a.select(null, null).isEmpty());
        }
    }

    record Members(ClusterQueue a, ClusterQueue b) {
    }

    /** Member A's or B's settings: spool in dir/MEMBER, backoff 10-20 min (nothing is retried by itself), 1 day lifetime. */
    private QueueSettings settings(String member, int maxMessages, long maxBytes) {
        return new QueueSettings(dir.resolve(member), Duration.ofMinutes(10), Duration.ofMinutes(20),
                Duration.ofDays(1), 4, maxMessages, maxBytes);
    }

    /** A new two-member cluster (closed after the test); returns once both are members and the partitions are safe. */
    private Members twoMembers(QueueSettings sa, QueueSettings sb, String what) throws Exception {
        String name = TestClusters.clusterName();
        int pa = TestClusters.freePort();
        int pb = TestClusters.freePort();
        ClusterQueue a = TestClusters.queue(ClusterMember.start(TestClusters.joining(name, pa, pb)), sa);
        opened.add(a);
        ClusterQueue b = TestClusters.queue(ClusterMember.start(TestClusters.joining(name, pb, pa)), sb);
        opened.add(b);
        await(what, Duration.ofSeconds(60),
                () -> a.clusterMemberForTests().memberCount() == 2 && a.clusterMemberForTests().clusterSafe());
        return new Members(a, b);
    }

    /** A handler that defers every attempt until {@code deferAll} is cleared. */
    private static TestClusters.RecordingHandler deferring() {
        TestClusters.RecordingHandler h = new TestClusters.RecordingHandler();
        h.deferAll = true;
        return h;
    }

    private static long attempts(ClusterQueue q, int n) {
        return q.clusterEntries().stream().filter(e -> e.meta().attempts() == n).count();
    }

    private static Set<String> heldIds(ClusterQueue q) {
        return q.clusterEntries().stream().filter(e -> e.meta().held()).map(e -> e.id().value())
                .collect(Collectors.toSet());
    }
}
