package io.relay.queue;

import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.AwsConfig;
import com.hazelcast.config.Config;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.KubernetesConfig;
import com.hazelcast.config.ListenerConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent;
import com.hazelcast.core.LifecycleListener;
import com.hazelcast.map.IMap;
import java.util.Objects;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's embedded Hazelcast member and the cluster epoch.
 *
 * <p>Strategy: a programmatic config only (no hazelcast.xml lookup); the join is static
 * TCP-IP over {@link ClusterSettings#members()}, or Hazelcast's built-in AWS or Kubernetes
 * discovery with the configured properties (TCP-IP off then), multicast and
 * auto-detection always off; the member binds only its listen address (unless that is
 * the any-address), no port auto-increment; the heartbeat timeout and split-brain merge
 * delay come from the settings; membership changes and merges are logged at INFO;
 * phone-home off, Hazelcast's own shutdown hook off (the node drives shutdown and drains
 * first), logging through SLF4J. The queue's maps ({@code relay-*})
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

    public static final String META_MAP = "relay-meta";
    public static final String CLUSTER_MAP = "relay-cluster";

    private final HazelcastInstance hazelcast;
    private final ClusterSettings settings;
    private final String epoch;
    /** Set before our own shutdown, so the watch can tell it from a member that died under us. */
    private final java.util.concurrent.atomic.AtomicBoolean closing = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile MemberWatch watch;

    private ClusterMember(HazelcastInstance hazelcast, ClusterSettings settings) {
        this.hazelcast = hazelcast;
        this.settings = settings;
        IMap<String, String> cluster = hazelcast.getMap(CLUSTER_MAP);
        String fresh = UUID.randomUUID().toString();
        String existing = cluster.putIfAbsent("epoch", fresh);
        this.epoch = existing == null ? fresh : existing;
        LOG.info("cluster {} member {} up ({} discovery), epoch {}{}; cluster members: {}", settings.clusterName(),
                settings.self(), settings.discovery(), epoch, existing == null ? " (new)" : "",
                hazelcast.getCluster().getMembers().size());
    }

    /** Starts the embedded member and joins (or forms) the cluster. Blocks until joined. */
    public static ClusterMember start(ClusterSettings settings) {
        return start(settings, c -> { });
    }

    /**
     * As {@link #start(ClusterSettings)}, with {@code more} applied to the member's config
     * first: the maps of other modules (e.g. the admin state's merge policy) that must be
     * configured before the member starts.
     */
    public static ClusterMember start(ClusterSettings settings, java.util.function.Consumer<Config> more) {
        Objects.requireNonNull(settings, "settings");
        Config config = config(settings);
        more.accept(config);
        portFree(settings);
        return new ClusterMember(Hazelcast.newHazelcastInstance(config), settings);
    }

    /**
     * Fails with the bind's own BindException when the member port is taken. Hazelcast would
     * log that as an ERROR with its stack trace on the console before throwing; the node says
     * it in one line naming {@code cluster.listen}. (A port taken between this check and
     * Hazelcast's bind still fails the start, only more loudly.)
     */
    static void portFree(ClusterSettings settings) {
        java.net.InetSocketAddress address = settings.bindsAny()
                ? new java.net.InetSocketAddress(settings.listenPort())
                : new java.net.InetSocketAddress(settings.listenHost(), settings.listenPort());
        try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
            probe.setReuseAddress(true); // as Hazelcast binds: a port in TIME_WAIT is free
            probe.bind(address);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot bind the member port " + address, e);
        }
    }

    static Config config(ClusterSettings settings) {
        Config config = new Config();
        config.setClusterName(settings.clusterName());
        config.setInstanceName("relay-" + settings.self());
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.shutdownhook.enabled", "false");
        config.setProperty("hazelcast.wait.seconds.before.join", "0");
        config.setProperty("hazelcast.graceful.shutdown.max.wait", "60");
        long heartbeat = settings.heartbeatTimeout().toSeconds();
        config.setProperty("hazelcast.max.no.heartbeat.seconds", Long.toString(heartbeat));
        // a few heartbeats per timeout, so a short test timeout does not drop a busy member
        long interval = Math.max(1, Math.min(5, heartbeat / 5));
        config.setProperty("hazelcast.heartbeat.interval.seconds", Long.toString(interval));
        long merge = settings.mergeDelay().toSeconds();
        config.setProperty("hazelcast.merge.first.run.delay.seconds", Long.toString(merge));
        config.setProperty("hazelcast.merge.next.run.delay.seconds", Long.toString(merge));
        if (settings.alone()) {
            config.setProperty("hazelcast.max.join.seconds", "1");
        }
        // Responses and backup acks completed on the I/O thread that read them, not handed to a
        // response thread: one thread hand-off less per remote call and per synchronous backup.
        // The queue's callbacks on those completions only do bookkeeping (see ClusterQueue.accept).
        // An operator's -Dhazelcast.operation.response.thread.count still wins.
        if (System.getProperty("hazelcast.operation.response.thread.count") == null) {
            config.setProperty("hazelcast.operation.response.thread.count", "0");
        }
        NetworkConfig network = config.getNetworkConfig();
        network.setPort(settings.listenPort());
        network.setPortAutoIncrement(false);
        if (settings.bindsAny()) {
            config.setProperty("hazelcast.socket.bind.any", "true");
        } else {
            config.setProperty("hazelcast.socket.bind.any", "false");
            config.setProperty("hazelcast.local.localAddress", settings.listenHost());
            network.getInterfaces().setEnabled(true).addInterface(settings.listenHost());
        }
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        ClusterSettings.Discovery discovery = settings.discovery();
        switch (discovery.mode()) {
            case TCP -> {
                join.getTcpIpConfig().setEnabled(true).setConnectionTimeoutSeconds(2);
                java.util.LinkedHashSet<String> members = new java.util.LinkedHashSet<>(settings.members());
                members.add(settings.self());
                members.forEach(m -> join.getTcpIpConfig().addMember(m));
            }
            case AWS -> {
                join.getTcpIpConfig().setEnabled(false);
                AwsConfig aws = join.getAwsConfig().setEnabled(true);
                discovery.properties().forEach(aws::setProperty);
            }
            case KUBERNETES -> {
                join.getTcpIpConfig().setEnabled(false);
                KubernetesConfig kubernetes = join.getKubernetesConfig().setEnabled(true);
                discovery.properties().forEach(kubernetes::setProperty);
            }
        }
        MapConfig maps = new MapConfig("relay-*");
        maps.setBackupCount(settings.backupCount());
        maps.setAsyncBackupCount(0);
        maps.setInMemoryFormat(InMemoryFormat.BINARY);
        config.addMapConfig(maps);
        // bodies between members' disks: copies at accept wait on the target's fsync there
        config.getExecutorConfig(BodyStore.EXECUTOR).setPoolSize(32);
        config.addListenerConfig(new ListenerConfig(new MembershipLog(settings.clusterName())));
        return config;
    }

    /**
     * Logs each membership change and split-brain merge at INFO with the member count, so
     * an operator (and the end-to-end tests) can see the cluster form, shrink and heal.
     */
    private static final class MembershipLog implements MembershipListener, LifecycleListener {
        private final String clusterName;

        MembershipLog(String clusterName) {
            this.clusterName = clusterName;
        }

        @Override
        public void memberAdded(MembershipEvent e) {
            LOG.info("cluster {}: member {} joined; cluster members: {}", clusterName, e.getMember().getAddress(),
                    e.getMembers().size());
        }

        @Override
        public void memberRemoved(MembershipEvent e) {
            LOG.info("cluster {}: member {} left; cluster members: {}", clusterName, e.getMember().getAddress(),
                    e.getMembers().size());
        }

        @Override
        public void stateChanged(LifecycleEvent e) {
            if (e.getState() == LifecycleEvent.LifecycleState.MERGING
                    || e.getState() == LifecycleEvent.LifecycleState.MERGED
                    || e.getState() == LifecycleEvent.LifecycleState.MERGE_FAILED) {
                LOG.info("cluster {}: split-brain merge: {}", clusterName, e.getState());
            }
        }
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

    /**
     * Calls {@code lost} once, on a thread of its own, if the member stops without
     * {@link #close()}: Hazelcast terminates it on an OutOfMemoryError or another fatal
     * error, and a node without its member can neither queue nor deliver mail.
     */
    public synchronized void onLost(Runnable lost) {
        if (watch != null) {
            throw new IllegalStateException("already watched");
        }
        watch = MemberWatch.start(hazelcast, closing::get, lost);
    }

    /** Leaves the cluster gracefully: partitions migrate to the other members first. */
    @Override
    public void close() {
        closing.set(true);
        MemberWatch w = watch;
        if (w != null) {
            w.close();
        }
        if (running()) {
            hazelcast.shutdown();
        }
    }

    /** Stops at once, as a crash would (backups on other members take over). For tests. */
    public void terminate() {
        hazelcast.getLifecycleService().terminate();
    }
}
