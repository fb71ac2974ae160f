package io.relay.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.auth.PasswordHash;
import io.relay.node.testing.Ports;
import io.relay.queue.ClusterMember;
import io.relay.queue.ClusterSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code smtpd.sasl-users-file} seeds the cluster's users table once: at the first start
 * (also over an older node's state file without users), never again, so a user removed
 * with relayctl stays removed after a full restart, and a user added to the file later is
 * not taken.
 */
class UsersBootstrapTest {
    private static final List<String> NETWORKS = List.of("127.0.0.0/8");

    /** One member's start: a fresh cluster, the store from {@code spool}, the seed from {@code file}. */
    private record Node(ClusterMember member, AdminStateStore store, ClusterSaslUsers users) implements AutoCloseable {
        static Node start(Path spool, Path file) {
            int port = Ports.free();
            ClusterMember m = ClusterMember.start(new ClusterSettings("bootstrap-" + UUID.randomUUID(), "127.0.0.1",
                    port, List.of("127.0.0.1:" + port), 0));
            ClusterSaslUsers users = new ClusterSaslUsers();
            AdminStateStore s = new AdminStateStore(m.hazelcast(), NETWORKS, spool, n -> { }, users::apply,
                    Clock.systemUTC());
            s.start();
            UsersBootstrap.seed(s, file);
            return new Node(m, s, users);
        }

        @Override
        public void close() {
            store.close();
            member.close();
        }
    }

    @Test
    void theFileSeedsOnceAndARemovedUserStaysRemoved(@TempDir Path dir) throws Exception {
        Path spool = Files.createDirectories(dir.resolve("spool"));
        // the state file of a node of the version before users (format 2): networks and a transport entry
        Files.writeString(spool.resolve(AdminStateStore.FILE), "{\"version\":4,\"updatedAt\":1,\"added\":[\"10.9.0.0/16\"],"
                + "\"removed\":[],\"format\":2,\"transport\":{\"a.test\":\"smtp:[b]\"},\"transportRemoved\":[],"
                + "\"limits\":{},\"credentials\":{}}");
        Path file = dir.resolve("sasl-users");
        Files.writeString(file, "# first users\nwebapp:" + PasswordHash.hash("web-pw") + ":@example.com:100/m\n"
                + "lambda:" + PasswordHash.hash("lambda-pw") + "\n");

        try (Node n = Node.start(spool, file)) {
            AdminState s = n.store().state();
            assertEquals(5, s.version(), "one change over the restored version 4");
            assertTrue(s.usersTable());
            assertEquals(List.of("lambda", "webapp"), List.copyOf(s.users().keySet()));
            assertEquals(List.of("10.9.0.0/16"), s.added(), "the older state's tables are kept");
            assertEquals(List.of("@example.com"), n.users().authenticate("webapp", "web-pw").orElseThrow().senders());
            assertTrue(n.users().authenticate("lambda", "lambda-pw").isPresent());
            // relayctl users remove lambda
            n.store().change(old -> {
                Map<String, AdminState.User> m = new LinkedHashMap<>(old.users());
                m.remove("lambda");
                return old.withUsers(m).next(n.store().now());
            });
            awaitFile(spool, 6);
        }
        // the file gains a user too: neither it nor the removed one comes in at the next start
        Files.writeString(file, "newcomer:" + PasswordHash.hash("new-pw") + "\n", java.nio.file.StandardOpenOption.APPEND);
        try (Node n = Node.start(spool, file)) {
            AdminState s = n.store().state();
            assertEquals(6, s.version(), "nothing seeded: " + s);
            assertEquals(List.of("webapp"), List.copyOf(s.users().keySet()));
            assertTrue(n.users().authenticate("lambda", "lambda-pw").isEmpty(), "a removed user stays removed");
            assertTrue(n.users().authenticate("newcomer", "new-pw").isEmpty(), "the file is ignored once seeded");
            assertTrue(n.users().authenticate("webapp", "web-pw").isPresent());
        }
        // all users removed: still a table, the file still ignored
        try (Node n = Node.start(spool, file)) {
            n.store().change(old -> old.withUsers(Map.of()).next(n.store().now()));
            awaitFile(spool, 7);
        }
        try (Node n = Node.start(spool, file)) {
            assertEquals(Map.of(), n.store().state().users());
            assertFalse(n.users().authenticate("webapp", "web-pw").isPresent());
        }
    }

    @Test
    void noFileOrAnEmptyOneMakesNoTable(@TempDir Path dir) throws Exception {
        Path spool = Files.createDirectories(dir.resolve("spool"));
        Path empty = Files.writeString(dir.resolve("empty"), "# nobody yet\n");
        try (Node n = Node.start(spool, empty)) {
            assertFalse(n.store().state().usersTable());
            UsersBootstrap.seed(n.store(), null);
            assertFalse(n.store().state().usersTable());
            assertEquals(0, n.store().state().version());
        }
    }

    private static void awaitFile(Path spool, long version) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            Path f = spool.resolve(AdminStateStore.FILE);
            if (Files.exists(f) && AdminState.fromJson(Files.readString(f)).version() == version) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("state file not at version " + version);
    }
}
