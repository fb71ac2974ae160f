package io.relay.queue;

import com.hazelcast.map.EntryProcessor;
import com.hazelcast.projection.Projection;
import java.io.Serializable;
import java.util.Map;

/**
 * The operator's changes to one message's delivery state, run as entry processors on the
 * partition that owns the {@code relay-meta} entry, so each is atomic against the delivery
 * worker's compare-and-set and against each other. Each answers the state it replaced, or
 * null when it changed nothing (gone, or already so).
 */
final class QueueOps {
    enum Op { HOLD, RELEASE, RETRY, DELETE }

    private QueueOps() {
    }

    /** One change; {@code nowMillis} is fixed by the caller so the backup replica computes the same state. */
    record Change(Op op, long nowMillis) implements EntryProcessor<String, byte[], byte[]>, Serializable {
        @Override
        public byte[] process(Map.Entry<String, byte[]> entry) {
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
            return old;
        }
    }

    /** {@code relay-messages} entry to {id, sender}, evaluated on the members that hold them. */
    static final class Sender implements Projection<Map.Entry<String, byte[]>, String[]>, Serializable {
        @Override
        public String[] transform(Map.Entry<String, byte[]> entry) {
            try {
                return new String[] {entry.getKey(), BinaryCodec.decodeSender(entry.getValue())};
            } catch (RuntimeException e) {
                return new String[] {entry.getKey(), "?"};
            }
        }
    }
}
