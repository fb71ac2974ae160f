package io.relay.queue;

import com.hazelcast.config.Config;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.util.Objects;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's embedded Hazelcast member and the cluster epoch.
 *
 * <p>Strategy: a programmatic config only (no hazelcast.xml lookup), static TCP-IP join
 * over {@link ClusterSettings#members()} with multicast and auto-detection off, no
 * port auto-increment, phone-home off, Hazelcast's own shutdown hook off (the node drives
 * shutdown and drains first), logging through SLF4J. The queue's maps ({@code relay-*})
 * keep {@code backupCount} synchronous backups, no async ones, in BINARY format. A member
 * that is alone in its member list skips the join wait so tests and single-node starts
 * are fast.
 *
 * <p>The cluster epoch: {@code putIfAbsent("epoch", random UUID)} in the small
 * {@code relay-cluster} map when the member starts. It changes only when the whole
 * cluster went down (the map is lost with the last member), which is what the spool
 * replay rule needs to know.
 */
public final class ClusterMember implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterMember.class);

    public static final String MESSAGES_MAP = "relay-messages";
    public static final String META_MAP = "relay-meta";
    public static final String CLUSTER_MAP = "relay-cluster";

    private final HazelcastInstance hazelcast;
    private final ClusterSettings settings;
    private final String epoch;

    private ClusterMember(HazelcastInstance hazelcast, ClusterSettings settings) {
        this.hazelcast = hazelcast;
        this.settings = settings;
        IMap<String, String> cluster = hazelcast.getMap(CLUSTER_MAP);
        String fresh = UUID.randomUUID().toString();
        String existing = cluster.putIfAbsent("epoch", fresh);
        this.epoch = existing == null ? fresh : existing;
        LOG.info("cluster {} member {} up, epoch {}{}", settings.clusterName(), settings.self(), epoch,
                existing == null ? " (new)" : "");
    }

    /** Starts the embedded member and joins (or forms) the cluster. Blocks until joined. */
    public static ClusterMember start(ClusterSettings settings) {
        Objects.requireNonNull(settings, "settings");
        return new ClusterMember(Hazelcast.newHazelcastInstance(config(settings)), settings);
    }

    static Config config(ClusterSettings settings) {
        Config config = new Config();
        config.setClusterName(settings.clusterName());
        config.setInstanceName("relay-" + settings.self());
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.shutdownhook.enabled", "false");
        config.setProperty("hazelcast.wait.seconds.before.join", "0");
        config.setProperty("hazelcast.socket.bind.any", "false");
        config.setProperty("hazelcast.local.localAddress", settings.listenHost());
        config.setProperty("hazelcast.graceful.shutdown.max.wait", "60");
        if (settings.alone()) {
            config.setProperty("hazelcast.max.join.seconds", "1");
        }
        NetworkConfig network = config.getNetworkConfig();
        network.setPort(settings.listenPort());
        network.setPortAutoIncrement(false);
        network.getInterfaces().setEnabled(true).addInterface(settings.listenHost());
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).setConnectionTimeoutSeconds(2);
        join.getTcpIpConfig().addMember(settings.self());
        settings.members().forEach(m -> join.getTcpIpConfig().addMember(m));
        MapConfig maps = new MapConfig("relay-*");
        maps.setBackupCount(settings.backupCount());
        maps.setAsyncBackupCount(0);
        maps.setInMemoryFormat(InMemoryFormat.BINARY);
        config.addMapConfig(maps);
        return config;
    }

    public HazelcastInstance hazelcast() {
        return hazelcast;
    }

    public ClusterSettings settings() {
        return settings;
    }

    /** The cluster epoch this member found or created when it started. */
    public String epoch() {
        return epoch;
    }

    public boolean running() {
        return hazelcast.getLifecycleService().isRunning();
    }

    /** No partition is migrating and every backup is in sync (a readiness input, and for tests). */
    public boolean clusterSafe() {
        return running() && hazelcast.getPartitionService().isClusterSafe();
    }

    public int memberCount() {
        return running() ? hazelcast.getCluster().getMembers().size() : 0;
    }

    /** Leaves the cluster gracefully: partitions migrate to the other members first. */
    @Override
    public void close() {
        if (running()) {
            hazelcast.shutdown();
        }
    }

    /** Stops at once, as a crash would (backups on other members take over). For tests. */
    public void terminate() {
        hazelcast.getLifecycleService().terminate();
    }
}
