package io.relay.queue;

/**
 * The counts of the messages this member owns, for the queue gauges (Postfix's qshape,
 * roughly); the operator's listings are {@link Entry} lists.
 *
 * @param active          owned messages neither held nor deferred (never attempted, or being attempted)
 * @param deferred        owned messages deferred at least once and not held
 * @param oldestAgeMillis age of the oldest owned message, 0 when none
 * @param held            owned messages on hold (whatever their attempts)
 * @param incoming        accepts in flight on this node: spooled or being stored, no 250 answered yet
 */
public record QueueView(long active, long deferred, long oldestAgeMillis, long held, long incoming) {

    /** Nothing held, nothing incoming. */
    public QueueView(long active, long deferred, long oldestAgeMillis) {
        this(active, deferred, oldestAgeMillis, 0, 0);
    }

    /** One owned message and its delivery state. */
    public record Entry(QueueId id, QueueMeta meta) {}
}
