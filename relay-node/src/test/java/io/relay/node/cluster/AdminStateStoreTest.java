package io.relay.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.relay.node.testing.Ports;
import io.relay.queue.ClusterMember;
import io.relay.queue.ClusterSettings;
import io.relay.routing.NetworkSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store against a real (one-member) Hazelcast cluster: the newest of the nodes' files
 * seeds the cluster's state after a full restart, and every state taken is written to the
 * spool file.
 */
class AdminStateStoreTest {
    private static final List<String> CONFIG = List.of("127.0.0.0/8");
    private ClusterMember member;

    @BeforeEach
    void startMember() {
        int port = Ports.free();
        member = ClusterMember.start(new ClusterSettings("admin-store-" + UUID.randomUUID(), "127.0.0.1", port,
                List.of("127.0.0.1:" + port), 0, ClusterSettings.DEFAULT_HEARTBEAT_TIMEOUT,
                ClusterSettings.DEFAULT_MERGE_DELAY, ClusterSettings.Discovery.tcp()));
    }

    @AfterEach
    void stopMember() {
        member.close();
    }

    private static Path spoolWith(Path dir, String name, AdminState s) throws Exception {
        Path spool = Files.createDirectories(dir.resolve(name));
        if (s != null) {
            Files.writeString(spool.resolve(AdminStateStore.FILE), s.toJson());
        }
        return spool;
    }

    @Test
    void theNewestFileWinsAndEveryNodeTakesIt(@TempDir Path dir) throws Exception {
        AdminState v3 = new AdminState(3, 1, List.of("10.3.0.0/16"), List.of());
        AdminState v5 = new AdminState(5, 2, List.of("10.5.0.0/16"), List.of("127.0.0.0/8"));
        AtomicReference<NetworkSet> seenA = new AtomicReference<>();
        AtomicReference<NetworkSet> seenB = new AtomicReference<>();
        Path spoolA = spoolWith(dir, "a", v3);
        Path spoolB = spoolWith(dir, "b", v5);

        AdminStateStore a = new AdminStateStore(member.hazelcast(), CONFIG, spoolA, seenA::set, Clock.systemUTC());
        a.start();
        assertEquals(List.of("127.0.0.0/8", "10.3.0.0/16"), a.effective());
        AdminStateStore b = new AdminStateStore(member.hazelcast(), CONFIG, spoolB, seenB::set, Clock.systemUTC());
        b.start(); // its newer file replaces the cluster's older state
        assertEquals(List.of("10.5.0.0/16"), b.effective());
        awaitEquals(List.of("10.5.0.0/16"), () -> a.effective());
        assertEquals(List.of("10.5.0.0/16"), seenA.get().asText());
        awaitEquals(v5, () -> AdminState.fromJson(Files.readString(spoolA.resolve(AdminStateStore.FILE))));

        AdminStateStore c = new AdminStateStore(member.hazelcast(), CONFIG, spoolWith(dir, "c", v3), n -> { },
                Clock.systemUTC());
        c.start(); // an older file does not undo the cluster's newer state
        assertEquals(List.of("10.5.0.0/16"), c.effective());

        AdminState v6 = a.change(s -> s.add("10.6.0.0/16", CONFIG, 9));
        assertEquals(6, v6.version());
        awaitEquals(List.of("10.5.0.0/16", "10.6.0.0/16"), () -> b.effective());
        awaitEquals(List.of("10.5.0.0/16", "10.6.0.0/16"), () -> seenB.get().asText());
        a.close();
        b.close();
        c.close();
    }

    private interface Probe<T> {
        T get() throws Exception;
    }

    private static <T> void awaitEquals(T expected, Probe<T> probe) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        T last = probe.get();
        while (!expected.equals(last) && System.nanoTime() < deadline) {
            Thread.sleep(10);
            last = probe.get();
        }
        assertEquals(expected, last);
    }
}
