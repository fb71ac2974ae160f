package io.relay.node.testing;

import io.relay.node.cluster.AdminStateMergePolicy;
import io.relay.queue.ClusterMember;
import io.relay.queue.ClusterSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * Two Hazelcast members in this JVM on loopback, joined into one cluster with one backup, as
 * two nodes' cluster members are configured ({@code relay-admin}'s merge policy included);
 * for the cluster-wide parts that need no whole node. {@link #restart()} stops both and
 * starts two fresh ones (new ports, same cluster name): a full-cluster restart.
 */
public final class TwoMembers implements AutoCloseable {
    private final String name = "two-members-" + UUID.randomUUID();
    private final List<ClusterMember> members = new ArrayList<>();

    private TwoMembers() {
    }

    /** Starts both at once and waits up to 60 s until each sees the other. */
    public static TwoMembers start() {
        TwoMembers t = new TwoMembers();
        t.startBoth();
        return t;
    }

    private void startBoth() {
        int[] ports = {Ports.free(), Ports.free()};
        List<String> all = List.of("127.0.0.1:" + ports[0], "127.0.0.1:" + ports[1]);
        List<CompletableFuture<ClusterMember>> starting = new ArrayList<>();
        for (int port : ports) {
            starting.add(CompletableFuture.supplyAsync(() -> ClusterMember.start(new ClusterSettings(name, "127.0.0.1",
                    port, all, 1, ClusterSettings.DEFAULT_HEARTBEAT_TIMEOUT, ClusterSettings.DEFAULT_MERGE_DELAY,
                    ClusterSettings.Discovery.tcp()), AdminStateMergePolicy::configure)));
        }
        starting.forEach(f -> members.add(f.join()));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!(members.get(0).memberCount() == 2 && members.get(1).memberCount() == 2)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the two members did not join within 60 s");
            }
            sleep(50);
        }
    }

    public ClusterMember a() {
        return members.get(0);
    }

    public ClusterMember b() {
        return members.get(1);
    }

    /** Both stopped, then two new members started together (the cluster's maps start empty). */
    public void restart() {
        close();
        startBoth();
    }

    @Override
    public void close() {
        for (ClusterMember m : members) {
            try {
                m.close();
            } catch (RuntimeException e) {
                // already down
            }
        }
        members.clear();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
