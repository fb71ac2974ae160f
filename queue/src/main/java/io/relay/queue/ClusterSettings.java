package io.relay.queue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How this node's embedded Hazelcast member joins the cluster.
 *
 * @param clusterName      Hazelcast cluster name; members with another name never join
 * @param listenHost       the address the member binds and advertises (an IP literal);
 *                         {@code 0.0.0.0} or {@code ::} binds every interface
 * @param listenPort       the member port; no auto-increment, so it is exactly this port
 * @param members          the static TCP-IP member list as {@code host:port}; may be empty or
 *                         only this member for a single-node cluster (tcp discovery only)
 * @param backupCount      synchronous backups per partition (async backups are always 0)
 * @param heartbeatTimeout a member silent this long is dropped (its backups take over)
 * @param mergeDelay       first and later split-brain merge checks run this often
 * @param discovery        how members find each other
 */
public record ClusterSettings(String clusterName, String listenHost, int listenPort, List<String> members,
                              int backupCount, Duration heartbeatTimeout, Duration mergeDelay, Discovery discovery) {
    public static final Duration DEFAULT_HEARTBEAT_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_MERGE_DELAY = Duration.ofSeconds(120);

    public ClusterSettings {
        Objects.requireNonNull(clusterName, "clusterName");
        Objects.requireNonNull(listenHost, "listenHost");
        Objects.requireNonNull(discovery, "discovery");
        members = List.copyOf(members);
        if (listenPort < 1 || listenPort > 65535) {
            throw new IllegalArgumentException("cluster listen port out of range: " + listenPort);
        }
        if (backupCount < 0 || backupCount > 6) {
            throw new IllegalArgumentException("backup count must be 0..6: " + backupCount);
        }
        if (heartbeatTimeout.toSeconds() < 1 || mergeDelay.toSeconds() < 1) {
            throw new IllegalArgumentException("heartbeat timeout and merge delay must be at least 1s");
        }
    }

    /** Static TCP-IP members with the default heartbeat timeout and merge delay. */
    public ClusterSettings(String clusterName, String listenHost, int listenPort, List<String> members,
                           int backupCount) {
        this(clusterName, listenHost, listenPort, members, backupCount, DEFAULT_HEARTBEAT_TIMEOUT,
                DEFAULT_MERGE_DELAY, Discovery.tcp());
    }

    /** Our own address in the {@code host:port} form of the member list. */
    public String self() {
        return listenHost.contains(":") ? "[" + listenHost + "]:" + listenPort : listenHost + ":" + listenPort;
    }

    /** Whether this member binds every interface ({@code 0.0.0.0} or {@code ::}). */
    public boolean bindsAny() {
        return listenHost.equals("0.0.0.0") || (listenHost.matches("[0:]+") && listenHost.contains(":"));
    }

    /** Whether the static member list names nobody but this member (a single-node cluster). */
    public boolean alone() {
        return discovery.mode() == Discovery.Mode.TCP && members.stream().allMatch(m -> m.equals(self()));
    }

    /**
     * How members find each other: the static {@link ClusterSettings#members()} list, or
     * Hazelcast's built-in AWS (EC2 API, e.g. by tag) or Kubernetes (API or DNS) discovery.
     *
     * @param properties passed as they are to Hazelcast's AwsConfig / KubernetesConfig
     *                   (keys as Hazelcast documents them); empty for tcp
     */
    public record Discovery(Mode mode, Map<String, String> properties) {
        public enum Mode { TCP, AWS, KUBERNETES }

        public Discovery {
            Objects.requireNonNull(mode, "mode");
            properties = Map.copyOf(properties);
        }

        public static Discovery tcp() {
            return new Discovery(Mode.TCP, Map.of());
        }

        public static Discovery aws(Map<String, String> properties) {
            return new Discovery(Mode.AWS, properties);
        }

        public static Discovery kubernetes(Map<String, String> properties) {
            return new Discovery(Mode.KUBERNETES, properties);
        }

        /** Never prints property values: an AWS secret key may be among them. */
        @Override
        public String toString() {
            return mode.name().toLowerCase() + (properties.isEmpty() ? "" : " " + properties.keySet());
        }
    }
}
