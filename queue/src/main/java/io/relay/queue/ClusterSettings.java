package io.relay.queue;

import java.util.List;
import java.util.Objects;

/**
 * How this node's embedded Hazelcast member joins the cluster.
 *
 * @param clusterName Hazelcast cluster name; members with another name never join
 * @param listenHost  the address the member binds and advertises (an IP literal)
 * @param listenPort  the member port; no auto-increment, so it is exactly this port
 * @param members     the static TCP-IP member list as {@code host:port}; may be empty or
 *                    only this member for a single-node cluster
 * @param backupCount synchronous backups per partition (async backups are always 0)
 */
public record ClusterSettings(String clusterName, String listenHost, int listenPort, List<String> members,
                              int backupCount) {
    public ClusterSettings {
        Objects.requireNonNull(clusterName, "clusterName");
        Objects.requireNonNull(listenHost, "listenHost");
        members = List.copyOf(members);
        if (listenPort < 1 || listenPort > 65535) {
            throw new IllegalArgumentException("cluster listen port out of range: " + listenPort);
        }
        if (backupCount < 0 || backupCount > 6) {
            throw new IllegalArgumentException("backup count must be 0..6: " + backupCount);
        }
    }

    /** Our own address in the {@code host:port} form of the member list. */
    public String self() {
        return listenHost.contains(":") ? "[" + listenHost + "]:" + listenPort : listenHost + ":" + listenPort;
    }

    /** Whether the member list names nobody but this member (a single-node cluster). */
    public boolean alone() {
        return members.stream().allMatch(m -> m.equals(self()));
    }
}
