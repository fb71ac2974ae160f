package io.relay.queue;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.ExecutionCallback;
import com.hazelcast.core.HazelcastInstance;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The copies of small messages (their content in the record) travel to each target member in
 * batches: at most {@value #IN_FLIGHT} batches per target are under way, and the copies that
 * arrive meanwhile wait and go together as the next one. There is no timer: an idle lane sends
 * a copy at once, as before; a busy one sends many per operation. One executor operation, one
 * response and one group commit of the target's copies journal then carry the copies of many
 * concurrent accepts, where each copy cost all three (issue 18: the cluster's cost per message).
 *
 * <p>Each copy keeps its own answer: the batch's response says which the target kept, and a
 * failed batch fails each of its copies, which the caller replaces one by one (see
 * {@link BodyStore#replicate}). A copy already given up when its batch is formed (timed out and
 * sent elsewhere) is not sent. Owns the lanes, one per target member.
 */
final class CopyBatches {
    /** Batches under way per target: the next one forms while these are on the wire and in the target's fsync. */
    static final int IN_FLIGHT = 2;
    static final int MAX_MESSAGES = 512;
    /** Bytes of records per batch: small messages only come here, so this bounds one operation's packet. */
    static final int MAX_BYTES = 1 << 20;

    private final HazelcastInstance hazelcast;
    private final String epoch;
    private final QueueEvents events;
    private final ConcurrentMap<UUID, Lane> lanes = new ConcurrentHashMap<>();

    CopyBatches(HazelcastInstance hazelcast, String epoch, QueueEvents events) {
        this.hazelcast = hazelcast;
        this.epoch = epoch;
        this.events = events;
    }

    /** Queues a copy of {@code encoded} for member {@code m}; {@code answer} completes when it is fsync'd there or failed. */
    void copy(Member m, String id, byte[] encoded, CompletableFuture<Boolean> answer) {
        lanes.computeIfAbsent(m.getUuid(), u -> new Lane(m)).add(new Pending(id, encoded, answer));
    }

    private record Pending(String id, byte[] encoded, CompletableFuture<Boolean> answer) {
    }

    /** The copies for one target member: those waiting, and how many batches are under way. */
    private final class Lane {
        private final Member member;
        private final ArrayDeque<Pending> waiting = new ArrayDeque<>();
        private int inFlight;

        Lane(Member member) {
            this.member = member;
        }

        void add(Pending p) {
            List<Pending> batch;
            synchronized (this) {
                waiting.add(p);
                batch = inFlight < IN_FLIGHT ? next() : null;
            }
            if (batch != null) {
                send(batch);
            }
        }

        /** The next batch from the waiting copies, counted as under way; null when none waits. Under the lane's lock. */
        private List<Pending> next() {
            List<Pending> batch = new ArrayList<>();
            long bytes = 0;
            while (!waiting.isEmpty() && batch.size() < MAX_MESSAGES) {
                Pending p = waiting.peek();
                if (!batch.isEmpty() && bytes + p.encoded().length > MAX_BYTES) {
                    break;
                }
                waiting.poll();
                if (!p.answer().isDone()) { // else given up meanwhile: not sent
                    batch.add(p);
                    bytes += p.encoded().length;
                }
            }
            if (batch.isEmpty()) {
                return null;
            }
            inFlight++;
            return batch;
        }

        private void send(List<Pending> batch) {
            String[] ids = new String[batch.size()];
            byte[][] encoded = new byte[batch.size()][];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = batch.get(i).id();
                encoded[i] = batch.get(i).encoded();
            }
            events.copyBatch(ids.length);
            try {
                hazelcast.getExecutorService(BodyStore.EXECUTOR).submitToMember(new BodyTasks.CopyBatch(epoch, ids, encoded),
                        member, new ExecutionCallback<boolean[]>() {
                            @Override
                            public void onResponse(boolean[] kept) {
                                finished();
                                for (int i = 0; i < ids.length; i++) {
                                    if (kept != null && i < kept.length && kept[i]) {
                                        batch.get(i).answer().complete(Boolean.TRUE);
                                    } else {
                                        batch.get(i).answer().completeExceptionally(new IllegalStateException(
                                                "member " + member.getUuid() + " did not keep the copy"));
                                    }
                                }
                            }

                            @Override
                            public void onFailure(Throwable t) {
                                finished();
                                fail(batch, t);
                            }
                        });
            } catch (RuntimeException e) { // the member is shutting down, or the target left
                finished();
                fail(batch, e);
            }
        }

        /** A batch answered: the next one goes if copies wait. Before the answers, which may queue copies elsewhere. */
        private void finished() {
            List<Pending> batch;
            synchronized (this) {
                inFlight--;
                batch = next();
            }
            if (batch != null) {
                send(batch);
            }
        }

        private void fail(List<Pending> batch, Throwable t) {
            if (!member.localMember() && hazelcast.getLifecycleService().isRunning()
                    && !hazelcast.getCluster().getMembers().contains(member)) {
                lanes.remove(member.getUuid(), this); // gone: a member that comes back has a new UUID
            }
            for (Pending p : batch) {
                p.answer().completeExceptionally(t);
            }
        }
    }
}
