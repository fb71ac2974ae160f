package io.relay.queue;

/**
 * Hooks for the node's mail log and metrics, called by {@link ClusterQueue}. All
 * methods have no-op defaults; they run on queue threads and must not block for long.
 */
public interface QueueEvents {
    QueueEvents NONE = new QueueEvents() {
    };

    /** A delivery attempt is about to start (Postfix qmgr's "from=..., size=..., nrcpt=... (queue active)"). */
    default void active(QueuedMessage message, int attempt, int pendingRecipients) {
    }

    /** The message left the queue: all recipients delivered, failed or expired (qmgr's "removed"). */
    default void removed(QueueId id) {
    }

    /** One spool fsync took this many nanoseconds. */
    default void fsyncNanos(long nanos) {
    }

    /** One copy operation went to another member carrying this many messages' copies ({@link CopyBatches}). */
    default void copyBatch(int messages) {
    }

    /** Pending recipients were postponed by {@code delayMillis} without counting an attempt (busy or paused next hop). */
    default void postponed(QueueId id, int pendingRecipients, long delayMillis) {
    }

    /** The delivery handler threw; the attempt counts as a deferral of every pending recipient. */
    default void handlerFailed(QueueId id, RuntimeException error) {
    }
}
