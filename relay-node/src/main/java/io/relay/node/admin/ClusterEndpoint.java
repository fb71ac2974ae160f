package io.relay.node.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.partition.Partition;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.relay.queue.ClusterMember;
import io.relay.queue.QueueOperations;
import io.relay.queue.QueueView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /admin/v1/cluster}: {@code GET} the members (address, partitions and queue entries
 * each owns, the readiness each reports, this node's circuit breakers);
 * {@code POST .../cluster/drain}: this node starts its drain (as on SIGTERM) on a thread of
 * its own and answers at once.
 *
 * <p>Strategy: each node publishes a small report (host name, addresses, readiness) into
 * the {@code relay-cluster} map under {@code node:<member uuid>} every
 * {@link #PUBLISH_SECONDS} s with a TTL, so any node can tell about every member without
 * knowing its health address; a member without a fresh report shows as "no report".
 * Queue entries per member are counted from {@code relay-meta}'s keys by partition owner.
 */
final class ClusterEndpoint implements AdminRequestHandler.Endpoint, AutoCloseable {
    static final String PATH = "/admin/v1/cluster";
    static final long PUBLISH_SECONDS = 2;
    private static final Logger LOG = LoggerFactory.getLogger(ClusterEndpoint.class);
    private static final Logger AUDIT = LoggerFactory.getLogger("admin.audit");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What this node tells the others about itself. */
    record Report(String hostname, String smtp, String health, String admin, boolean ready, List<String> notReady,
                  long atMillis) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record MemberStatus(String uuid, String address, boolean self, int partitions, long queued, String hostname,
                        String admin, String health, String readiness, List<String> notReady, Long reportAgeSeconds) {
    }

    record Status(String cluster, int size, boolean clusterSafe, List<MemberStatus> members,
                  Map<String, String> breakers) {
    }

    record Drain(String node, boolean draining, String detail) {
    }

    private final HazelcastInstance hazelcast;
    private final QueueOperations queue;
    private final Supplier<Report> self;
    private final Supplier<Map<String, String>> breakers;
    private final Runnable drain;
    private final IMap<String, String> reports;
    private final AtomicBoolean drainStarted = new AtomicBoolean();
    private final ScheduledExecutorService publisher = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "admin-cluster-report");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param self     this node's report, read every {@link #PUBLISH_SECONDS} s
     * @param breakers this node's circuit breaker per next hop (closed, open, half_open)
     * @param drain    starts the node's drain; returns at once
     */
    ClusterEndpoint(HazelcastInstance hazelcast, QueueOperations queue, Supplier<Report> self,
                    Supplier<Map<String, String>> breakers, Runnable drain) {
        this.hazelcast = hazelcast;
        this.queue = queue;
        this.self = self;
        this.breakers = breakers;
        this.drain = drain;
        this.reports = hazelcast.getMap(ClusterMember.CLUSTER_MAP);
    }

    void start() {
        publisher.scheduleWithFixedDelay(this::publish, 0, PUBLISH_SECONDS, TimeUnit.SECONDS);
    }

    private void publish() {
        try {
            if (hazelcast.getLifecycleService().isRunning()) {
                reports.set(key(hazelcast.getCluster().getLocalMember().getUuid()),
                        JSON.writeValueAsString(self.get()), PUBLISH_SECONDS * 5, TimeUnit.SECONDS);
            }
        } catch (JsonProcessingException | RuntimeException e) {
            LOG.debug("cluster report not published: {}", e.toString());
        }
    }

    private static String key(UUID member) {
        return "node:" + member;
    }

    @Override
    public String prefix() {
        return PATH;
    }

    @Override
    public Object handle(HttpMethod method, String path, QueryStringDecoder query, String body, String client) {
        if (path.equals(PATH)) {
            if (!method.equals(HttpMethod.GET)) {
                throw new UnsupportedOperationException("use GET");
            }
            return status();
        }
        if (path.equals(PATH + "/drain")) {
            if (!method.equals(HttpMethod.POST)) {
                throw new UnsupportedOperationException("use POST");
            }
            return drain(client);
        }
        throw new NoSuchElementException("no such endpoint: " + path);
    }

    Status status() {
        Member local = hazelcast.getCluster().getLocalMember();
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
                r = self.get(); // our own is always fresh
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
                hazelcast.getPartitionService().isClusterSafe(), members, breakers.get());
    }

    Drain drain(String client) {
        String name = self.get().hostname();
        if (!drainStarted.compareAndSet(false, true)) {
            return new Drain(name, true, "already draining");
        }
        AUDIT.warn("cluster drain of {} requested by {}", name, client);
        drain.run();
        return new Drain(name, true, "not ready now; closes its listeners after health.drain-delay"
                + " and leaves the cluster");
    }

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
