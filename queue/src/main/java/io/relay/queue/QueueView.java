package io.relay.queue;

import java.util.List;

/**
 * A snapshot of the messages this member owns, for tests, ops and the admin API
 * (Postfix's mailq / qshape, roughly).
 *
 * @param active          owned messages neither held nor deferred (never attempted, or being attempted)
 * @param deferred        owned messages deferred at least once and not held
 * @param oldestAgeMillis age of the oldest owned message, 0 when none
 * @param entries         the owned entries, oldest first
 * @param held            owned messages on hold (whatever their attempts)
 * @param incoming        accepts in flight on this node: spooled or being stored, no 250 answered yet
 */
public record QueueView(long active, long deferred, long oldestAgeMillis, List<Entry> entries, long held,
                        long incoming) {
    public QueueView {
        entries = List.copyOf(entries);
    }

    /** Nothing held, nothing incoming. */
    public QueueView(long active, long deferred, long oldestAgeMillis, List<Entry> entries) {
        this(active, deferred, oldestAgeMillis, entries, 0, 0);
    }

    /** One owned message and its delivery state. */
    public record Entry(QueueId id, QueueMeta meta) {}
}
