package io.relay.node.cluster;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.partition.Partition;
import io.relay.queue.ClusterMember;
import io.relay.queue.QueueOperations;
import io.relay.queue.QueueView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every member of the cluster tells about itself, and the cluster as one node sees it:
 * members with their address, the partitions and queue entries each owns and the readiness
 * each reports. The admin API's {@code /admin/v1/cluster} answers from it.
 *
 * <p>Strategy: each node publishes a small report (host name, addresses, readiness) into
 * the {@code relay-cluster} map under {@code node:<member uuid>} every
 * {@link #PUBLISH_SECONDS} s with a TTL, so any node can tell about every member without
 * knowing its health address; a member without a fresh report shows as "no report".
 * Queue entries per member are counted from {@code relay-meta}'s keys by partition owner.
 */
public final class ClusterMembers implements AutoCloseable {
    static final long PUBLISH_SECONDS = 2;
    private static final Logger LOG = LoggerFactory.getLogger(ClusterMembers.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What this node tells about itself; {@code notReady}: the failing readiness checks, read at each report. */
    public record NodeFacts(String hostname, String smtp, String health, Supplier<List<String>> notReady) {
    }

    /** What this node tells the others about itself. */
    record Report(String hostname, String smtp, String health, String admin, boolean ready, List<String> notReady,
                  long atMillis) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record MemberStatus(String uuid, String address, boolean self, int partitions, long queued,
                               String hostname, String admin, String health, String readiness,
                               List<String> notReady, Long reportAgeSeconds) {
    }

    /** {@code GET /admin/v1/cluster}'s answer. */
    public record Status(String cluster, int size, boolean clusterSafe, List<MemberStatus> members,
                         Map<String, String> breakers) {
    }

    private final HazelcastInstance hazelcast;
    private final QueueOperations queue;
    private final NodeFacts facts;
    private final IMap<String, String> reports;
    private volatile String adminAddress;
    private final ScheduledExecutorService publisher = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "admin-cluster-report");
        t.setDaemon(true);
        return t;
    });

    public ClusterMembers(HazelcastInstance hazelcast, QueueOperations queue, NodeFacts facts) {
        this.hazelcast = hazelcast;
        this.queue = queue;
        this.facts = facts;
        this.reports = hazelcast.getMap(ClusterMember.CLUSTER_MAP);
    }

    /** Starts publishing this node's report, which names {@code adminAddress} as its admin API. */
    public void start(String adminAddress) {
        this.adminAddress = adminAddress;
        publisher.scheduleWithFixedDelay(this::publish, 0, PUBLISH_SECONDS, TimeUnit.SECONDS);
    }

    /** This node's host name, as its report gives it. */
    public String hostname() {
        return facts.hostname();
    }

    private Report self() {
        List<String> failing = facts.notReady().get();
        return new Report(facts.hostname(), facts.smtp(), facts.health(), adminAddress, failing.isEmpty(), failing,
                System.currentTimeMillis());
    }

    private void publish() {
        try {
            if (hazelcast.getLifecycleService().isRunning()) {
                reports.set(key(hazelcast.getCluster().getLocalMember().getUuid()),
                        JSON.writeValueAsString(self()), PUBLISH_SECONDS * 5, TimeUnit.SECONDS);
            }
        } catch (JsonProcessingException | RuntimeException e) {
            LOG.debug("cluster report not published: {}", e.toString());
        }
    }

    private static String key(UUID member) {
        return "node:" + member;
    }

    /** The cluster as this node sees it now; {@code breakers}: this node's circuit breakers per next hop. */
    public Status status(Map<String, String> breakers) {
        Map<UUID, Integer> partitions = new HashMap<>();
        for (Partition p : hazelcast.getPartitionService().getPartitions()) {
            if (p.getOwner() != null) {
                partitions.merge(p.getOwner().getUuid(), 1, Integer::sum);
            }
        }
        Map<UUID, Long> queued = new HashMap<>();
        for (QueueView.Entry e : queue.clusterEntries()) {
            Member owner = hazelcast.getPartitionService().getPartition(e.id().value()).getOwner();
            if (owner != null) {
                queued.merge(owner.getUuid(), 1L, Long::sum);
            }
        }
        long now = System.currentTimeMillis();
        List<MemberStatus> members = new ArrayList<>();
        for (Member m : hazelcast.getCluster().getMembers()) {
            Report r = null;
            String text = reports.get(key(m.getUuid()));
            if (text != null) {
                try {
                    r = JSON.readValue(text, Report.class);
                } catch (JsonProcessingException e) {
                    r = null;
                }
            }
            if (m.localMember()) {
                r = self(); // our own is always fresh
            }
            String address = m.getAddress().getHost() + ":" + m.getAddress().getPort();
            members.add(new MemberStatus(m.getUuid().toString(), address, m.localMember(),
                    partitions.getOrDefault(m.getUuid(), 0), queued.getOrDefault(m.getUuid(), 0L),
                    r == null ? null : r.hostname(), r == null ? null : r.admin(), r == null ? null : r.health(),
                    r == null ? "no report" : r.ready() ? "ready" : "not ready",
                    r == null || r.notReady().isEmpty() ? null : r.notReady(),
                    r == null ? null : Math.max(0, now - r.atMillis()) / 1000));
        }
        return new Status(hazelcast.getConfig().getClusterName(), members.size(),
                hazelcast.getPartitionService().isClusterSafe(), members, breakers);
    }

    /** Stops publishing and withdraws this node's report. */
    @Override
    public void close() {
        publisher.shutdownNow();
        try {
            if (hazelcast.getLifecycleService().isRunning()) {
                reports.delete(key(hazelcast.getCluster().getLocalMember().getUuid()));
            }
        } catch (RuntimeException e) {
            LOG.debug("cluster report not withdrawn: {}", e.toString());
        }
    }
}
