package io.relay.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Cluster-wide lane limits across three real (in-process) Hazelcast members. */
class ClusterLimitsTest {
    private static final long S = 1_000_000_000L;
    private final List<ClusterMember> members = new ArrayList<>();
    private final List<ClusterLimits> limits = new ArrayList<>();

    @BeforeEach
    void formCluster() throws Exception {
        String name = TestClusters.clusterName();
        int[] ports = {TestClusters.freePort(), TestClusters.freePort(), TestClusters.freePort()};
        for (int i = 0; i < 3; i++) {
            ClusterMember m = ClusterMember.start(TestClusters.joining(name, ports[i], ports));
            members.add(m);
            limits.add(new ClusterLimits(m.hazelcast()));
        }
        TestClusters.await("three members", Duration.ofSeconds(30), () -> members.get(0).memberCount() == 3);
        TestClusters.await("partitions assigned and backed up", Duration.ofSeconds(60),
                () -> members.stream().allMatch(ClusterMember::clusterSafe));
    }

    @AfterEach
    void stop() {
        members.forEach(ClusterMember::terminate);
    }

    private static List<ClusterLimits.Rate> rates(String... texts) {
        List<ClusterLimits.Rate> out = new ArrayList<>();
        for (String t : texts) {
            String[] p = t.split("/");
            long period = switch (p[1]) {
                case "s" -> S;
                case "d" -> 86_400 * S;
                default -> throw new IllegalArgumentException(t);
            };
            out.add(new ClusterLimits.Rate(Long.parseLong(p[0]), period, t));
        }
        return out;
    }

    @Test
    void oneASecondFromThreeMembersAtOnceGivesSlotsASecondApart() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<Long>> slots = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                ClusterLimits l = limits.get(i % 3);
                slots.add(pool.submit(() -> {
                    ClusterLimits.Reservation r = l.reserve("smtp:[ses]:587", rates("1/s"), 1, 1, 30 * S);
                    assertTrue(r.granted());
                    return System.nanoTime() + r.waitNanos();
                }));
            }
            List<Long> at = new ArrayList<>();
            for (Future<Long> f : slots) {
                at.add(f.get(30, TimeUnit.SECONDS));
            }
            Collections.sort(at);
            for (int i = 1; i < at.size(); i++) {
                long gap = at.get(i) - at.get(i - 1);
                // the slots come from one clock (the lane's owner); only the answers' travel differs
                assertTrue(gap > S - 20_000_000L, "slots " + (i - 1) + " and " + i + " are " + gap / 1e6 + " ms apart");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aWaitBeyondTheCapIsRefusedAndCountsNothing() {
        ClusterLimits a = limits.get(0);
        assertTrue(a.reserve("lane", rates("1/s"), 1, 1, 0).granted());
        ClusterLimits.Reservation refused = limits.get(1).reserve("lane", rates("1/s"), 1, 1, S / 2);
        assertFalse(refused.granted());
        assertEquals("1/s", refused.limitedBy());
        assertTrue(refused.waitNanos() > S / 2);
        ClusterLimits.Reservation next = limits.get(2).reserve("lane", rates("1/s"), 1, 1, 2 * S);
        assertTrue(next.granted());
        assertTrue(next.waitNanos() <= S + 30_000_000L, "the refusal reserved nothing: " + next.waitNanos());
    }

    @Test
    void aDailyQuotaCountsRecipientsAcrossMembers() {
        List<ClusterLimits.Rate> quota = rates("100/d");
        assertTrue(limits.get(0).reserve("q", quota, 60, 1, 0).granted());
        assertTrue(limits.get(1).reserve("q", quota, 40, 1, 0).granted());
        assertFalse(limits.get(2).reserve("q", quota, 1, 1, S).granted(), "the day's 100 recipients are used up");
    }

    @Test
    void highRatesReserveBatchesThatStillHoldTheRate() {
        long t1 = System.nanoTime();
        ClusterLimits.Reservation first = limits.get(0).reserve("fast", rates("100/s"), 1, 10, S);
        assertEquals(10, first.slots());
        assertEquals(S / 100 + S / 100 / 20, first.spacing(), "a 5% margin on send rates");
        long t2 = System.nanoTime();
        ClusterLimits.Reservation second = limits.get(1).reserve("fast", rates("100/s"), 1, 10, S);
        long apart = (t2 + second.waitNanos()) - (t1 + first.waitNanos());
        assertTrue(apart >= 10 * first.spacing() - 5_000_000L, "the next batch starts after the first: " + apart);
        long before = limits.get(0).roundTrips();
        limits.get(0).reserve("fast", rates("100/s", "50000/d"), 1, 10, S);
        assertEquals(before + 1, limits.get(0).roundTrips(), "one round trip per reservation");
    }

    @Test
    void leasesHoldTheClusterLimitAndWaitingMembersGoFirst() {
        assertTrue(limits.get(0).tryLease("c", 2));
        assertTrue(limits.get(1).tryLease("c", 2));
        assertFalse(limits.get(2).tryLease("c", 2), "two leases are out");
        assertEquals(2, limits.get(0).leasesHeld("c"));
        limits.get(0).release("c", 1);
        TestClustersAwait.until(() -> limits.get(0).leasesHeld("c") == 1);
        assertFalse(limits.get(0).tryLease("c", 2), "member 3 is waiting, so member 1 does not take the lease back");
        assertTrue(limits.get(2).tryLease("c", 2), "the waiting member gets it");
    }

    @Test
    void aDeadMembersLeasesAreFreedWithinSeconds() throws Exception {
        assertTrue(limits.get(2).tryLease("d", 1));
        assertFalse(limits.get(0).tryLease("d", 1));
        long start = System.nanoTime();
        members.get(2).terminate();
        TestClusters.await("the dead member's lease freed", Duration.ofSeconds(60),
                () -> limits.get(0).tryLease("d", 1));
        System.out.printf("dead member's concurrency lease free again after %.1f s%n", (System.nanoTime() - start) / 1e9);
    }

    @Test
    void rateStateSurvivesTheLossOfTheLanesOwner() throws Exception {
        String lane = "smtp:[owner-dies]:25";
        int owner = -1;
        for (int i = 0; i < 3; i++) {
            if (members.get(i).hazelcast().getPartitionService().getPartition(lane).getOwner().localMember()) {
                owner = i;
            }
        }
        assertTrue(owner >= 0);
        int survivor = (owner + 1) % 3;
        ClusterLimits other = limits.get(survivor);
        assertTrue(other.reserve(lane, rates("1/d"), 1, 1, 0).granted());
        members.get(owner).terminate();
        TestClusters.await("two members", Duration.ofSeconds(60), () -> members.get(survivor).memberCount() == 2);
        assertFalse(other.reserve(lane, rates("1/d"), 1, 1, S).granted(), "the backup kept the day's count");
    }

    /** Polling for asynchronous releases. */
    private static final class TestClustersAwait {
        static void until(java.util.function.BooleanSupplier condition) {
            try {
                TestClusters.await("condition", Duration.ofSeconds(10), condition);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}
