package io.relay.queue;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's changes (hold, release, retry, delete), run from any member in batches of
 * {@link #OPERATOR_BATCH} ids: an entry processor per map ({@code executeOnKeys}, grouped
 * per partition, run on the owners; see {@link QueueOps}), then, for hold, release and
 * delete, a record in the spool of the node that accepted each message, on every member
 * ({@code relay-queue-ops} executor, {@link #journalLocally} there), fsync'd before it
 * answers: what makes them outlive a full-cluster restart. The owner hears of a change
 * through the store's events ({@link StoreWatch}).
 */
final class OperatorCommands {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    /** Ids per entry-processor call of an operator change. */
    private static final int OPERATOR_BATCH = 5000;
    /** The executor that carries operator changes to every member's spool. */
    private static final String OPS_EXECUTOR = "relay-queue-ops";

    private final HazelcastInstance hazelcast;
    private final QueueMaps maps;
    private final SpoolJournal journal;
    private final BodyStore bodies;
    private final QueueEvents events;

    OperatorCommands(HazelcastInstance hazelcast, QueueMaps maps, BodyStore bodies, QueueEvents events) {
        this.hazelcast = hazelcast;
        this.maps = maps;
        this.journal = bodies.accepted();
        this.bodies = bodies;
        this.events = events;
    }

    /**
     * Batches of {@link #OPERATOR_BATCH} ids, each one entry-processor call per map: Hazelcast
     * groups the keys by partition and runs them on the owners, so a batch costs a few round
     * trips whatever its size. {@code progress} hears the count done after each batch.
     * Answers the ids the change changed.
     */
    List<String> change(Collection<String> ids, QueueOps.Op op, IntConsumer progress) {
        List<String> all = new ArrayList<>(new LinkedHashSet<>(ids));
        List<String> touched = new ArrayList<>();
        for (int i = 0; i < all.size(); i += OPERATOR_BATCH) {
            Set<String> batch = new LinkedHashSet<>(all.subList(i, Math.min(all.size(), i + OPERATOR_BATCH)));
            long now = System.currentTimeMillis();
            if (op == QueueOps.Op.DELETE) {
                maps.done().executeOnKeys(batch, new QueueOps.Tombstone(now, ClusterQueue.TOMBSTONE_MINUTES));
            }
            Map<String, Boolean> changed = maps.meta().executeOnKeys(batch, new QueueOps.Change(op, now));
            List<String> hit = new ArrayList<>();
            for (String id : batch) {
                if (Boolean.TRUE.equals(changed.get(id))) {
                    hit.add(id);
                }
            }
            if (op == QueueOps.Op.DELETE && !hit.isEmpty()) {
                hit.forEach(id -> events.removed(new QueueId(id)));
            }
            if (op != QueueOps.Op.RETRY) {
                journalOnAllMembers(op, hit);
            }
            touched.addAll(hit);
            progress.accept(Math.min(all.size(), i + OPERATOR_BATCH));
        }
        return touched;
    }

    /**
     * Sends the change to every member, whose spool records it for the ids it accepted (the
     * others skip them); waits for their fsyncs. A member that does not answer is logged: its
     * entries are still in the store, and its replay on rejoining writes their state again.
     */
    private void journalOnAllMembers(QueueOps.Op op, List<String> ids) {
        if (ids.isEmpty()) {
            return;
        }
        Map<Member, Future<Integer>> answers = hazelcast.getExecutorService(OPS_EXECUTOR)
                .submitToAllMembers(new QueueOps.Journal(op, ids.toArray(String[]::new)));
        answers.forEach((m, f) -> {
            try {
                f.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.warn("queue {} of {} messages not recorded in the spool of member {}: {}; it takes the store's "
                        + "state when it replays", op.name().toLowerCase(Locale.ROOT), ids.size(),
                        m.getAddress(), e.toString());
            }
        });
    }

    /**
     * On each member ({@link QueueOps.Journal}): records an operator change in this node's
     * spool for the ids it owes, fsync'd before answering; answers how many it owed.
     */
    int journalLocally(QueueOps.Op op, String[] ids) {
        if (op == QueueOps.Op.DELETE) {
            // the message's body goes from this disk, whether accepted here or kept as a copy
            int held = bodies.releaseLocally(ids);
            if (held > 0) {
                journal.flush().join();
                bodies.copies().flush().join();
            }
            return held;
        }
        if (op != QueueOps.Op.HOLD && op != QueueOps.Op.RELEASE) {
            return 0;
        }
        // in both journals: after a full-cluster restart, a copy may be the one that puts the message back
        int owed = 0;
        for (SpoolJournal j : List.of(journal, bodies.copies())) {
            int here = 0;
            for (String id : ids) {
                QueueId q = new QueueId(id);
                if (j.owes(q)) {
                    j.held(q, op == QueueOps.Op.HOLD);
                    here++;
                }
            }
            if (here > 0) {
                j.flush().join();
            }
            owed += here;
        }
        return owed;
    }
}
