package io.relay.queue;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.ExecutionCallback;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.IExecutorService;
import com.hazelcast.instance.impl.HazelcastInstanceProxy;
import com.hazelcast.internal.partition.InternalPartition;
import com.hazelcast.internal.partition.PartitionReplica;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where message bodies live: on disk, never in the cluster's heap. This node keeps two
 * journals: {@code accepted}, the messages it accepted (its spool), and {@code copies},
 * the synchronous copies it keeps of messages other members accepted. A message's index
 * entry ({@link QueueMeta#holders}) lists the members whose disks hold it, the accepting
 * member first. Bodies travel over Hazelcast's member-to-member executor
 * ({@value #EXECUTOR}, {@link BodyTasks}): a copy at accept, a fetch when the member that
 * delivers a message holds none (it took the partition over from a dead member), and
 * batched release notices when a message is finished.
 *
 * <p>Copies go first to the members that hold the backups of the message's partition in
 * Hazelcast (so the member promoted when the owner dies usually has the body on its own
 * disk), then to the next members in the cluster's member order.
 */
final class BodyStore {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    static final String EXECUTOR = "relay-bodies";
    /** Where {@link BodyTasks} find the member's store: its Hazelcast user context. */
    static final String CONTEXT_KEY = "io.relay.queue.BodyStore";
    private static final long FETCH_TIMEOUT_MILLIS = 10_000;
    private static final int RELEASE_BATCH = 10_000;
    /** As Hazelcast's backup timeout: a copy target slower than this is replaced. */
    static final long COPY_TIMEOUT_MILLIS = 5_000;

    private final HazelcastInstance hazelcast;
    private final SpoolJournal accepted;
    private final SpoolJournal copies;
    private final String epoch;
    private final int backupCount;
    private final Map<UUID, Queue<String>> releases = new ConcurrentHashMap<>();

    BodyStore(HazelcastInstance hazelcast, SpoolJournal accepted, SpoolJournal copies, String epoch, int backupCount) {
        this.hazelcast = hazelcast;
        this.accepted = accepted;
        this.copies = copies;
        this.epoch = epoch;
        this.backupCount = backupCount;
    }

    /** Makes this store reachable by the other members' {@link BodyTasks}. */
    void register() {
        hazelcast.getUserContext().put(CONTEXT_KEY, this);
    }

    UUID self() {
        return hazelcast.getCluster().getLocalMember().getUuid();
    }

    /**
     * The members (other than this one) that are to keep copies of a new message with this
     * id: up to {@code queue.backup-count}, fewer when the cluster is smaller.
     */
    List<UUID> copyTargets(String id) {
        UUID self = self();
        Set<UUID> out = new LinkedHashSet<>();
        List<Member> members = new ArrayList<>(hazelcast.getCluster().getMembers());
        int want = Math.min(backupCount, members.size() - 1);
        if (want <= 0) {
            return List.of();
        }
        try {
            int partitionId = hazelcast.getPartitionService().getPartition(id).getPartitionId();
            InternalPartition p = ((HazelcastInstanceProxy) hazelcast).getOriginal().node.getPartitionService()
                    .getPartition(partitionId);
            for (int i = 1; i <= backupCount && out.size() < want; i++) {
                PartitionReplica r = p.getReplica(i);
                if (r != null && !r.uuid().equals(self) && isMember(members, r.uuid())) {
                    out.add(r.uuid());
                }
            }
        } catch (RuntimeException | LinkageError e) {
            // Hazelcast's partition table is internal API: without it, member order alone decides
        }
        int at = 0;
        for (int i = 0; i < members.size(); i++) {
            if (members.get(i).localMember()) {
                at = i;
            }
        }
        for (int i = 1; i < members.size() && out.size() < want; i++) {
            out.add(members.get((at + i) % members.size()).getUuid());
        }
        return List.copyOf(out);
    }

    private static boolean isMember(List<Member> members, UUID uuid) {
        for (Member m : members) {
            if (m.getUuid().equals(uuid)) {
                return true;
            }
        }
        return false;
    }

    private Member member(UUID uuid) {
        for (Member m : hazelcast.getCluster().getMembers()) {
            if (m.getUuid().equals(uuid)) {
                return m;
            }
        }
        return null;
    }

    /** Whether this member is in the cluster now. */
    boolean live(UUID uuid) {
        return member(uuid) != null;
    }

    /**
     * Copies a message to {@code targets}: completes, with the members that have it fsync'd,
     * once each target answered or was replaced. A target that fails or does not answer
     * within {@value #COPY_TIMEOUT_MILLIS} ms (frozen, leaving) is replaced by another live
     * member that has no copy yet; with none left the list is shorter than {@code targets}
     * (as Hazelcast's own backups, a copy does not wait for an unresponsive member), and
     * re-replication adds the copy when the members change. Never completes exceptionally.
     * Does not block; completes on Hazelcast's threads.
     */
    CompletableFuture<List<UUID>> replicate(String id, byte[] encoded, List<UUID> targets) {
        if (targets.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        Copying copying = new Copying(id, encoded, targets);
        targets.forEach(copying::copyTo);
        return copying.all;
    }

    /** One message's copies under way: who was asked, who has it, how many are still out. */
    private final class Copying {
        final String id;
        final byte[] encoded;
        final Set<UUID> asked = new LinkedHashSet<>();
        final List<UUID> copied = new ArrayList<>();
        final AtomicInteger left;
        final CompletableFuture<List<UUID>> all = new CompletableFuture<>();

        Copying(String id, byte[] encoded, List<UUID> targets) {
            this.id = id;
            this.encoded = encoded;
            this.left = new AtomicInteger(targets.size());
            asked.add(self());
            asked.addAll(targets);
        }

        void copyTo(UUID target) {
            CompletableFuture<Boolean> answer = new CompletableFuture<>();
            Member m = member(target);
            if (m == null) {
                answer.completeExceptionally(new IllegalStateException("member " + target + " left the cluster"));
            } else {
                try {
                    hazelcast.getExecutorService(EXECUTOR).submitToMember(new BodyTasks.Copy(id, epoch, encoded), m,
                            new ExecutionCallback<Boolean>() {
                                @Override
                                public void onResponse(Boolean response) {
                                    answer.complete(response);
                                }

                                @Override
                                public void onFailure(Throwable t) {
                                    answer.completeExceptionally(t);
                                }
                            });
                } catch (RuntimeException e) {
                    answer.completeExceptionally(e);
                }
            }
            answer.orTimeout(COPY_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS).whenComplete((ok, failure) -> {
                // Whatever happens here, this copy's slot is settled: an exception thrown in this
                // callback (the member shutting down under it) would otherwise be swallowed and
                // leave the accept, and the SMTP session waiting on it, hanging for good.
                boolean replaced = false;
                try {
                    if (failure == null) {
                        synchronized (this) {
                            copied.add(target);
                        }
                    } else {
                        LOG.debug("{}: copy to member {} failed: {}", id, target, failure.toString());
                        UUID next = substitute();
                        if (next != null) {
                            copyTo(next);
                            replaced = true;
                        }
                    }
                } catch (RuntimeException e) {
                    LOG.debug("{}: copy to member {} not settled: {}", id, target, e.toString());
                } finally {
                    if (!replaced && left.decrementAndGet() == 0) {
                        synchronized (this) {
                            all.complete(List.copyOf(copied));
                        }
                    }
                }
            });
        }

        /** A live member not asked yet, in member order; null when there is none. */
        private synchronized UUID substitute() {
            for (Member m : hazelcast.getCluster().getMembers()) {
                if (asked.add(m.getUuid())) {
                    return m.getUuid();
                }
            }
            return null;
        }
    }

    /** On a copy's target ({@link BodyTasks.Copy}): keeps it in the copies journal, fsync'd before answering. */
    void keepCopy(String id, String copyEpoch, byte[] encoded) {
        copies.accept(new QueueId(id), copyEpoch, encoded).join();
    }

    /** Whether this node's disk holds the message (accepted here or a copy). */
    boolean holdsLocally(String id) {
        QueueId q = new QueueId(id);
        return accepted.owes(q) || copies.owes(q);
    }

    /** The encoded message from this node's disk, empty when it holds none. */
    Optional<byte[]> localEncoded(String id) {
        QueueId q = new QueueId(id);
        Optional<byte[]> b = accepted.readOwedEncoded(q);
        return b.isPresent() ? b : copies.readOwedEncoded(q);
    }

    /**
     * The message, from this node's disk or else from a member that holds it (the listed
     * holders first, then every other member: a list can miss a copy after a full-cluster
     * restart). Blocking (remote reads up to 10 s each): for delivery workers and operators.
     */
    Optional<QueuedMessage> find(String id, Collection<UUID> holders) {
        return findEncoded(id, holders).map(BinaryCodec::decodeMessage);
    }

    /** As {@link #find}, the message in its {@link BinaryCodec} form. */
    Optional<byte[]> findEncoded(String id, Collection<UUID> holders) {
        Optional<byte[]> local = localEncoded(id);
        if (local.isPresent()) {
            return local;
        }
        UUID self = self();
        Set<Member> asked = new LinkedHashSet<>();
        for (UUID h : holders) {
            Member m = member(h);
            if (m != null && !h.equals(self)) {
                asked.add(m);
            }
        }
        for (Member m : hazelcast.getCluster().getMembers()) {
            if (!m.localMember()) {
                asked.add(m);
            }
        }
        IExecutorService executor = hazelcast.getExecutorService(EXECUTOR);
        for (Member m : asked) {
            try {
                Future<byte[]> f = executor.submitToMember(new BodyTasks.Fetch(id), m);
                byte[] b = f.get(FETCH_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
                if (b != null) {
                    return Optional.of(b);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.empty();
            } catch (Exception e) {
                LOG.debug("{}: body not fetched from member {}: {}", id, m.getAddress(), e.toString());
            }
        }
        return Optional.empty();
    }

    /**
     * A finished message: drops it from this node's disk (DONE records) and tells the other
     * holders, in batches sent by {@link #sendReleases}. A notice lost with a member that died
     * meanwhile is made up by that member's replay or reconcile (same epoch, gone from the index).
     */
    void release(String id, Collection<UUID> holders) {
        releaseLocally(new String[] {id});
        UUID self = self();
        for (UUID h : holders) {
            if (!h.equals(self)) {
                releases.computeIfAbsent(h, k -> new ConcurrentLinkedQueue<>()).add(id);
            }
        }
    }

    /**
     * DONE in whichever of this node's journals holds them; answers how many it held. Does not
     * wait for a journal's scan at start (a release notice runs on a member's executor thread):
     * an id it cannot tell yet gets its DONE anyway and counts as held.
     */
    int releaseLocally(String[] ids) {
        int held = 0;
        for (String id : ids) {
            QueueId q = new QueueId(id);
            if (accepted.mayOwe(q)) {
                accepted.done(q);
                held++;
            }
            if (copies.mayOwe(q)) {
                copies.done(q);
                held++;
            }
        }
        return held;
    }

    /** Sends the release notices queued so far, one task per holder and batch (not waited for). */
    void sendReleases() {
        IExecutorService executor = hazelcast.getExecutorService(EXECUTOR);
        for (Map.Entry<UUID, Queue<String>> e : releases.entrySet()) {
            Member m = member(e.getKey());
            Queue<String> q = e.getValue();
            if (m == null) {
                releases.remove(e.getKey());
                continue;
            }
            while (!q.isEmpty()) {
                List<String> batch = new ArrayList<>();
                for (String id; batch.size() < RELEASE_BATCH && (id = q.poll()) != null; ) {
                    batch.add(id);
                }
                if (!batch.isEmpty()) {
                    executor.submitToMember(new BodyTasks.Release(batch.toArray(String[]::new)), m);
                }
            }
        }
    }

    SpoolJournal accepted() {
        return accepted;
    }

    SpoolJournal copies() {
        return copies;
    }
}
