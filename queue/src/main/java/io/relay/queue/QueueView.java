package io.relay.queue;

import java.util.List;

/**
 * A snapshot of the messages this member owns, for tests, ops and the admin API
 * (Postfix's mailq / qshape, roughly).
 *
 * @param active          owned messages not yet deferred (never attempted, or being attempted)
 * @param deferred        owned messages deferred at least once
 * @param oldestAgeMillis age of the oldest owned message, 0 when none
 * @param entries         the owned entries, oldest first
 */
public record QueueView(long active, long deferred, long oldestAgeMillis, List<Entry> entries) {
    public QueueView {
        entries = List.copyOf(entries);
    }

    /** One owned message and its delivery state. */
    public record Entry(QueueId id, QueueMeta meta) {}
}
