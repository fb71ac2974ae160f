package io.relay.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.auth.SaslUser;
import io.relay.node.testing.Ports;
import io.relay.node.testing.TwoMembers;
import io.relay.queue.ClusterLimits;
import io.relay.queue.ClusterMember;
import io.relay.queue.ClusterSettings;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The two cluster-wide counts of SMTP AUTH on two real Hazelcast members: failed AUTH per
 * client (the lockout) and each user's own rate. What one member counts, the other sees.
 */
class SaslClusterCountsTest {
    private static TwoMembers cluster;

    @BeforeAll
    static void start() {
        cluster = TwoMembers.start();
    }

    @AfterAll
    static void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void fiveFailuresThroughOneMemberLockTheClientOutOnTheOtherUntilTheWindowPasses() throws Exception {
        Duration window = Duration.ofSeconds(2);
        ClusterAuthFailures a = new ClusterAuthFailures(cluster.a().hazelcast(), 5, window);
        ClusterAuthFailures b = new ClusterAuthFailures(cluster.b().hazelcast(), 5, window);
        InetAddress attacker = InetAddress.getByName("203.0.113.9");
        InetAddress other = InetAddress.getByName("203.0.113.10");
        long t0 = System.nanoTime(); // a sliding window: the lock lifts when the first failure leaves it
        for (int i = 0; i < 4; i++) {
            a.failed(attacker);
        }
        assertFalse(b.locked(attacker), "4 failures of 5");
        a.failed(attacker);
        assertTrue(b.locked(attacker), "5 failures through A lock the client out on B");
        assertTrue(a.locked(attacker));
        assertFalse(b.locked(other), "another client is not locked");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (b.locked(attacker) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        long lockedMs = (System.nanoTime() - t0) / 1_000_000;
        assertFalse(b.locked(attacker), "the lock lifts when the window passes");
        System.out.printf("lockout: 5 failures through member A, locked on member B at once, lifted %d ms"
                + " after the first failure (window %d ms)%n", lockedMs, window.toMillis());
        assertTrue(lockedMs >= window.toMillis() - 100, "held for the window: " + lockedMs + " ms");
        assertTrue(lockedMs < window.toMillis() + 2_000, "lifted soon after the window: " + lockedMs + " ms");
        // failures spread over both members count together
        for (int i = 0; i < 5; i++) {
            (i % 2 == 0 ? a : b).failed(other);
        }
        assertTrue(a.locked(other) && b.locked(other), "failures through A and B count together");
    }

    @Test
    void aLimitOfZeroNeverLocksAndABrokenClusterLocksNoOneAndThrowsNothing() throws Exception {
        ClusterAuthFailures never = new ClusterAuthFailures(cluster.a().hazelcast(), 0, Duration.ofMinutes(5));
        InetAddress client = InetAddress.getByName("198.51.100.7");
        for (int i = 0; i < 20; i++) {
            never.failed(client);
        }
        assertFalse(never.locked(client));
        assertFalse(cluster.a().hazelcast().getMap(ClusterAuthFailures.MAP).containsKey("198.51.100.7"),
                "no cluster call with limit 0");

        int port = Ports.free();
        ClusterMember alone = ClusterMember.start(new ClusterSettings("auth-down-" + UUID.randomUUID(), "127.0.0.1",
                port, List.of("127.0.0.1:" + port), 0));
        ClusterAuthFailures down = new ClusterAuthFailures(alone.hazelcast(), 1, Duration.ofMinutes(5));
        down.failed(client);
        assertTrue(down.locked(client));
        alone.close();
        down.failed(client); // the member is gone: logged once, not thrown
        assertFalse(down.locked(client), "a cluster that cannot answer locks no one out");
    }

    @Test
    void aUserWithThreePerMinuteGetsThreeAcrossBothMembersThenNone() {
        ClusterSenderRates a = new ClusterSenderRates(new ClusterLimits(cluster.a().hazelcast()));
        ClusterSenderRates b = new ClusterSenderRates(new ClusterLimits(cluster.b().hazelcast()));
        SaslUser webapp = new SaslUser("webapp-" + UUID.randomUUID(), List.of(), List.of("3/m"));
        List<Boolean> got = new ArrayList<>();
        got.add(a.tryAcquire(webapp));
        got.add(b.tryAcquire(webapp));
        got.add(a.tryAcquire(webapp));
        got.add(b.tryAcquire(webapp));
        got.add(a.tryAcquire(webapp));
        assertEquals(List.of(true, true, true, false, false), got, "3/m counted across members A and B");

        SaslUser another = new SaslUser("other-" + UUID.randomUUID(), List.of(), List.of("3/m", "1000/d"));
        assertTrue(b.tryAcquire(another) && a.tryAcquire(another) && b.tryAcquire(another), "each user its own count");
        assertFalse(a.tryAcquire(another));

        SaslUser daily = new SaslUser("daily-" + UUID.randomUUID(), List.of(), List.of("2/d"));
        assertTrue(a.tryAcquire(daily) && b.tryAcquire(daily), "a quota allows its count at once");
        assertFalse(a.tryAcquire(daily));

        SaslUser free = new SaslUser("free-" + UUID.randomUUID(), List.of(), List.of());
        for (int i = 0; i < 50; i++) {
            assertTrue(a.tryAcquire(free));
        }
        assertFalse(cluster.a().hazelcast().getMap(ClusterLimits.LIMITS_MAP).containsKey("sasl-user:" + free.name()),
                "a user without rates costs no cluster call");
    }

    @Test
    void theAllowanceAdmitsExactlyNAtOnce() {
        // 3/m: slots 20.03 s apart; the third lies two slots ahead, the fourth three
        long allowance = ClusterSenderRates.allowanceNanos(3, Duration.ofMinutes(1).toNanos());
        assertTrue(allowance >= 2 * 20_030_000_000L && allowance < 3 * 20_000_000_000L, Long.toString(allowance));
    }
}
