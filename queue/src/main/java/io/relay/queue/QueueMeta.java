package io.relay.queue;

import java.util.List;
import java.util.Objects;

/**
 * A message's delivery state in the {@code relay-meta} map: small, rewritten after each
 * attempt, while the message itself stays immutable in {@code relay-messages}.
 *
 * @param pending           recipients still owed
 * @param attempts          delivery attempts made so far
 * @param nextAttemptMillis when the next attempt is due (epoch millis)
 * @param arrivalMillis     when the message was accepted
 * @param lastReason        why the last attempt deferred ("" before any)
 * @param size              content size in bytes
 * @param held              put on hold by an operator ({@code relayctl queue hold}, Postfix's
 *                          {@code postsuper -h}): the scheduler does not attempt it until released
 */
public record QueueMeta(List<String> pending, int attempts, long nextAttemptMillis, long arrivalMillis,
                        String lastReason, long size, boolean held) {
    public QueueMeta {
        pending = List.copyOf(pending);
        Objects.requireNonNull(lastReason, "lastReason");
    }

    /** Not held. */
    public QueueMeta(List<String> pending, int attempts, long nextAttemptMillis, long arrivalMillis,
                     String lastReason, long size) {
        this(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, false);
    }

    QueueMeta withHeld(boolean h) {
        return new QueueMeta(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, h);
    }

    QueueMeta withNextAttempt(long millis) {
        return new QueueMeta(pending, attempts, millis, arrivalMillis, lastReason, size, held);
    }

    static QueueMeta fresh(QueuedMessage message) {
        return new QueueMeta(message.envelope().recipients(), 0, System.currentTimeMillis(),
                message.envelope().arrivalMillis(), "", message.size());
    }

    /** Deferred at least once: Postfix's deferred queue, else the active/incoming one. */
    public boolean deferred() {
        return attempts > 0;
    }
}
