package io.relay.queue;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.IExecutorService;
import com.hazelcast.instance.impl.HazelcastInstanceProxy;
import com.hazelcast.internal.partition.InternalPartition;
import com.hazelcast.internal.partition.PartitionReplica;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where message bodies live: on disk, never in the cluster's heap. This node keeps two
 * journals: {@code accepted}, the messages it accepted (its spool), and {@code copies},
 * the synchronous copies it keeps of messages other members accepted. A message's index
 * entry ({@link QueueMeta#holders}) lists the members whose disks hold it, the accepting
 * member first. Bodies travel over Hazelcast's member-to-member executor
 * ({@value #EXECUTOR}, {@link BodyTasks}): a copy at accept ({@link BodyCopies}; small ones
 * batched per target, {@link CopyBatches}), a fetch when the member that
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

    /** A large body crosses between members in parts of this size: never whole in either heap. */
    static final int PART_BYTES = 1 << 20;

    private final HazelcastInstance hazelcast;
    private final SpoolJournal accepted;
    private final SpoolJournal copies;
    private final BodyFiles acceptedFiles;
    private final BodyFiles copiesFiles;
    private final String epoch;
    private final int backupCount;
    private final Map<UUID, Queue<String>> releases = new ConcurrentHashMap<>();
    private final BodyCopies copying;

    BodyStore(HazelcastInstance hazelcast, SpoolJournal accepted, SpoolJournal copies, BodyFiles acceptedFiles,
              BodyFiles copiesFiles, String epoch, int backupCount, QueueEvents events) {
        this.hazelcast = hazelcast;
        this.accepted = accepted;
        this.copies = copies;
        this.acceptedFiles = acceptedFiles;
        this.copiesFiles = copiesFiles;
        this.epoch = epoch;
        this.backupCount = backupCount;
        this.copying = new BodyCopies(this, hazelcast, new CopyBatches(hazelcast, epoch, events), epoch);
    }

    /**
     * A message as this node's disk holds it: its encoded record and, when its content is a
     * file ({@link BinaryCodec#onDisk}), that file.
     */
    record Stored(byte[] encoded, Path file) {
        static Stored inMemory(byte[] encoded) {
            return new Stored(encoded, null);
        }

        QueuedMessage message() {
            QueuedMessage m = BinaryCodec.decodeMessage(encoded);
            if (m.body() instanceof MessageBody.OnDisk d) {
                return new QueuedMessage(m.id(), m.envelope(), d.at(file));
            }
            return m;
        }

        long fileLength() {
            return ((MessageBody.OnDisk) BinaryCodec.decodeMessage(encoded).body()).fileLength();
        }
    }

    /** Where the SMTP server streams the content of a large message {@code id} before it is accepted. */
    Path incomingBody(String id) {
        return acceptedFiles.incoming(id);
    }

    /**
     * Settles a large message's streamed content in this node's spool (fsync'd, before its
     * journal record is written): answers the message with its body at the settled place.
     * Blocks for the fsync. Messages in the heap come back as they are.
     */
    QueuedMessage settleAccepted(QueuedMessage message) throws IOException {
        if (!(message.body() instanceof MessageBody.OnDisk d)) {
            return message;
        }
        String id = message.id().value();
        Path where = d.file();
        if (!acceptedFiles.incoming(id).equals(where)) {
            throw new IOException(id + ": content at " + where + ", not in the spool's incoming directory");
        }
        return new QueuedMessage(message.id(), message.envelope(), d.at(acceptedFiles.settle(id, d.fileLength())));
    }

    /** Drops what a refused accept left of a large message's content. */
    void discardIncoming(String id) {
        acceptedFiles.discardIncoming(id);
        acceptedFiles.delete(id);
    }

    /** Removes body files whose journal record is gone (a replay's or a reconcile's DONE); answers how many. */
    int sweepFiles() {
        return acceptedFiles.sweep(id -> accepted.owes(new QueueId(id)))
                + copiesFiles.sweep(id -> copies.owes(new QueueId(id)));
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

    Member member(UUID uuid) {
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
    CompletableFuture<List<UUID>> replicate(String id, Stored stored, List<UUID> targets) {
        if (targets.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        return copying.replicate(id, stored, targets);
    }

    /**
     * On a copy's target ({@link BodyTasks.Copy}): keeps it in the copies journal, fsync'd
     * before answering; a large body's parts ({@link BodyTasks.CopyPart}) came first and are
     * settled before the record is written.
     */
    void keepCopy(String id, String copyEpoch, byte[] encoded) {
        if (BinaryCodec.onDisk(encoded)) {
            try {
                copiesFiles.settle(id, Stored.inMemory(encoded).fileLength());
            } catch (IOException e) {
                copiesFiles.discardIncoming(id);
                throw new UncheckedIOException(e);
            }
        }
        copies.accept(new QueueId(id), copyEpoch, encoded).join();
    }

    /**
     * On a copy batch's target ({@link BodyTasks.CopyBatch}): keeps small messages' copies in
     * the copies journal (one group commit for them all); answers which are fsync'd.
     */
    boolean[] keepCopies(String[] ids, String copyEpoch, byte[][] encoded) {
        List<CompletableFuture<Void>> written = new ArrayList<>(ids.length);
        for (int i = 0; i < ids.length; i++) {
            written.add(copies.accept(new QueueId(ids[i]), copyEpoch, encoded[i]));
        }
        boolean[] kept = new boolean[ids.length];
        for (int i = 0; i < ids.length; i++) {
            try {
                written.get(i).join();
                kept[i] = true;
            } catch (CompletionException | CancellationException e) {
                LOG.debug("{}: copy not kept: {}", ids[i], e.toString());
            }
        }
        return kept;
    }

    /** On a copy's target ({@link BodyTasks.CopyPart}): one part of a large body, before its record. */
    void keepPart(String id, long offset, byte[] part) {
        try {
            copiesFiles.writePart(id, offset, part);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** For {@link BodyTasks.FetchPart}: a part of a large body this node holds, null when it holds none. */
    byte[] localPart(String id, long offset, int max) {
        try {
            byte[] b = acceptedFiles.readPart(id, offset, max);
            return b != null ? b : copiesFiles.readPart(id, offset, max);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether this node's disk holds the message (accepted here or a copy). */
    boolean holdsLocally(String id) {
        QueueId q = new QueueId(id);
        return accepted.owes(q) || copies.owes(q);
    }

    /** The encoded message from this node's disk, empty when it holds none. */
    Optional<byte[]> localEncoded(String id) {
        return localStored(id).map(Stored::encoded);
    }

    /** The message as this node's disk holds it, empty when it holds none. */
    Optional<Stored> localStored(String id) {
        QueueId q = new QueueId(id);
        Optional<byte[]> b = accepted.readOwedEncoded(q);
        if (b.isPresent()) {
            return Optional.of(new Stored(b.get(), BinaryCodec.onDisk(b.get()) ? acceptedFiles.settled(id) : null));
        }
        return copies.readOwedEncoded(q)
                .map(e -> new Stored(e, BinaryCodec.onDisk(e) ? copiesFiles.settled(id) : null));
    }

    /**
     * The message, from this node's disk or else from a member that holds it (the listed
     * holders first, then every other member: a list can miss a copy after a full-cluster
     * restart). Blocking (remote reads up to 10 s each): for delivery workers and operators.
     */
    Optional<QueuedMessage> find(String id, Collection<UUID> holders) {
        return findStored(id, holders).map(Stored::message);
    }

    /**
     * As {@link #find}, the message as stored. A large body held only by other members is
     * first copied to this node's disk, part by part (it becomes one of its copies).
     */
    Optional<Stored> findStored(String id, Collection<UUID> holders) {
        Optional<Stored> local = localStored(id);
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
                if (b != null && !BinaryCodec.onDisk(b)) {
                    return Optional.of(Stored.inMemory(b));
                }
                if (b != null) {
                    fetchParts(executor, m, id, Stored.inMemory(b).fileLength());
                    keepCopy(id, epoch, b);
                    return Optional.of(new Stored(b, copiesFiles.settled(id)));
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
     * The message for an operator's view: as {@link #find}, except that a large body held only
     * elsewhere is not copied here: its headers and the start of its content come back in
     * the heap ({@value #VIEW_BYTES} bytes after them at most), enough to show its headers.
     */
    Optional<QueuedMessage> view(String id, Collection<UUID> holders) {
        Optional<Stored> local = localStored(id);
        if (local.isPresent()) {
            return local.map(Stored::message);
        }
        IExecutorService executor = hazelcast.getExecutorService(EXECUTOR);
        for (Member m : hazelcast.getCluster().getMembers()) {
            if (m.localMember()) {
                continue;
            }
            try {
                byte[] b = executor.submitToMember(new BodyTasks.Fetch(id), m).get(FETCH_TIMEOUT_MILLIS,
                        TimeUnit.MILLISECONDS);
                if (b == null) {
                    continue;
                }
                QueuedMessage msg = BinaryCodec.decodeMessage(b);
                if (!(msg.body() instanceof MessageBody.OnDisk d)) {
                    return Optional.of(msg);
                }
                byte[] start = executor.submitToMember(new BodyTasks.FetchPart(id, 0, VIEW_BYTES), m)
                        .get(FETCH_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
                byte[] shown = java.util.Arrays.copyOf(d.prefix(), d.prefix().length + (start == null ? 0 : start.length));
                if (start != null) {
                    System.arraycopy(start, 0, shown, d.prefix().length, start.length);
                }
                return Optional.of(new QueuedMessage(msg.id(), msg.envelope(), shown));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.empty();
            } catch (Exception e) {
                LOG.debug("{}: body not viewed on member {}: {}", id, m.getAddress(), e.toString());
            }
        }
        return Optional.empty();
    }

    private static final int VIEW_BYTES = 64 * 1024;

    private void fetchParts(IExecutorService executor, Member m, String id, long length) throws Exception {
        for (long offset = 0; offset < length; offset += PART_BYTES) {
            byte[] part = executor.submitToMember(new BodyTasks.FetchPart(id, offset, PART_BYTES), m)
                    .get(FETCH_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            if (part == null || part.length == 0) {
                copiesFiles.discardIncoming(id);
                throw new IOException(id + ": member " + m.getAddress() + " no longer holds the body");
            }
            keepPart(id, offset, part);
        }
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
            acceptedFiles.delete(id);
            copiesFiles.delete(id);
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
