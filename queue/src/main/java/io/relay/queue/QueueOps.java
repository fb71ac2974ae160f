package io.relay.queue;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.projection.Projection;
import com.hazelcast.query.Predicate;
import java.io.Serializable;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * The operator's changes to one message's delivery state, run as entry processors on the
 * partition that owns the {@code relay-meta} entry, so each is atomic against the delivery
 * worker's compare-and-set and against each other; the selection that finds them
 * ({@link Matches}), evaluated on the owners too; and the record of each change in the
 * spool of the node that accepted the message ({@link Journal}).
 */
final class QueueOps {
    enum Op { HOLD, RELEASE, RETRY, DELETE }

    /** Where {@link Journal} finds the member's {@link OperatorCommands}: its Hazelcast user context. */
    static final String QUEUE_CONTEXT_KEY = "io.relay.queue.ClusterQueue";

    private QueueOps() {
    }

    /**
     * One change; {@code nowMillis} is fixed by the caller so the backup replica computes the
     * same state. Answers TRUE when it changed the entry, null when not (gone, or already so).
     */
    record Change(Op op, long nowMillis) implements EntryProcessor<String, byte[], Boolean>, Serializable {
        @Override
        public Boolean process(Map.Entry<String, byte[]> entry) {
            byte[] old = entry.getValue();
            if (old == null) {
                return null;
            }
            QueueMeta m = BinaryCodec.decodeMeta(old);
            QueueMeta next = switch (op) {
                case HOLD -> m.held() ? null : m.withHeld(true);
                case RELEASE -> m.held() ? m.withHeld(false) : null;
                // a held message stays held: retry does not release it (as postqueue -f)
                case RETRY -> m.held() ? null : m.withNextAttempt(Math.min(m.nextAttemptMillis(), nowMillis));
                case DELETE -> m;
            };
            if (next == null) {
                return null;
            }
            entry.setValue(op == Op.DELETE ? null : BinaryCodec.encodeMeta(next));
            return Boolean.TRUE;
        }
    }

    /**
     * Lists {@code holder} among the members whose disks hold the message, unless it is
     * listed already; answers TRUE when it added it, null when not (listed, or no entry).
     */
    record AddHolder(java.util.UUID holder) implements EntryProcessor<String, byte[], Boolean>, Serializable {
        @Override
        public Boolean process(Map.Entry<String, byte[]> entry) {
            byte[] old = entry.getValue();
            if (old == null) {
                return null;
            }
            QueueMeta m = BinaryCodec.decodeMeta(old);
            if (m.holders().contains(holder)) {
                return null;
            }
            java.util.List<java.util.UUID> more = new java.util.ArrayList<>(m.holders());
            more.add(holder);
            entry.setValue(BinaryCodec.encodeMeta(m.withHolders(more)));
            return Boolean.TRUE;
        }
    }

    /**
     * A replay's entry: {@code state} when the index has none, else {@code holder} added to
     * the holders of the entry there (another holder's replay put it back first).
     */
    record PutOrAddHolder(byte[] state, java.util.UUID holder)
            implements EntryProcessor<String, byte[], Boolean>, Serializable {
        @Override
        public Boolean process(Map.Entry<String, byte[]> entry) {
            if (entry.getValue() == null) {
                entry.setValue(state);
                return Boolean.TRUE;
            }
            return new AddHolder(holder).process(entry);
        }
    }

    /**
     * Replaces the holders of an entry by {@code holders}, only when it still lists exactly
     * {@code expected} (re-replication against a concurrent change); TRUE when it did.
     */
    record SetHolders(java.util.List<java.util.UUID> expected, java.util.List<java.util.UUID> holders)
            implements EntryProcessor<String, byte[], Boolean>, Serializable {
        @Override
        public Boolean process(Map.Entry<String, byte[]> entry) {
            byte[] old = entry.getValue();
            if (old == null) {
                return null;
            }
            QueueMeta m = BinaryCodec.decodeMeta(old);
            if (!m.holders().equals(expected)) {
                return null;
            }
            entry.setValue(BinaryCodec.encodeMeta(m.withHolders(holders)));
            return Boolean.TRUE;
        }
    }

    /** Sets a finished message's tombstone in {@code relay-done}, with its time to live. */
    record Tombstone(long nowMillis, long minutes) implements EntryProcessor<String, Long, Boolean>, Serializable {
        @Override
        public Boolean process(Map.Entry<String, Long> entry) {
            ((ExtendedMapEntry<String, Long>) entry).setValue(nowMillis, minutes, TimeUnit.MINUTES);
            return null;
        }
    }

    /**
     * A {@code relay-meta} entry in {@code state} (hold, deferred or active; null: any) with
     * a pending recipient routed to {@code nextHop} (case-insensitive; null: any).
     */
    record Matches(String state, String nextHop) implements Predicate<String, byte[]> {
        @Override
        public boolean apply(Map.Entry<String, byte[]> entry) {
            byte[] value = entry.getValue();
            if (value == null) {
                return false;
            }
            QueueMeta m;
            try {
                m = BinaryCodec.decodeMeta(value);
            } catch (RuntimeException e) {
                return false;
            }
            if (state != null && !state.equals(m.state())) {
                return false;
            }
            return nextHop == null || namedNextHops(m).stream().anyMatch(h -> h.equalsIgnoreCase(nextHop));
        }
    }

    /** The stored next hops; the recipient domains for an entry written before they were stored. */
    static java.util.List<String> namedNextHops(QueueMeta m) {
        return m.nextHops().isEmpty() ? NextHopNamer.RECIPIENT_DOMAIN.nextHops("", m.pending()) : m.nextHops();
    }

    /**
     * Runs on every member: records an operator change in that node's spool for the ids it
     * accepted ({@link OperatorCommands#journalLocally}); answers how many it owed.
     */
    static final class Journal implements Callable<Integer>, Serializable, HazelcastInstanceAware {
        private final Op op;
        private final String[] ids;
        private transient HazelcastInstance hazelcast;

        Journal(Op op, String[] ids) {
            this.op = op;
            this.ids = ids;
        }

        @Override
        public void setHazelcastInstance(HazelcastInstance instance) {
            this.hazelcast = instance;
        }

        @Override
        public Integer call() {
            Object queue = hazelcast.getUserContext().get(QUEUE_CONTEXT_KEY);
            if (!(queue instanceof OperatorCommands q)) {
                throw new IllegalStateException("no queue on member " + hazelcast.getName()
                        + " to record queue " + op.name().toLowerCase(Locale.ROOT));
            }
            return q.journalLocally(op, ids);
        }
    }

    /** {@code relay-meta} entry to {id, sender}, evaluated on the members that own them. */
    static final class Sender implements Projection<Map.Entry<String, byte[]>, String[]>, Serializable {
        @Override
        public String[] transform(Map.Entry<String, byte[]> entry) {
            try {
                return new String[] {entry.getKey(), BinaryCodec.decodeMeta(entry.getValue()).sender()};
            } catch (RuntimeException e) {
                return new String[] {entry.getKey(), "?"};
            }
        }
    }
}
