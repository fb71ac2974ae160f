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
 * @param nextHops          where the pending recipients go, as the router decided at accept and
 *                          again after each attempt ({@link NextHopNamer}): distinct, in recipient
 *                          order; empty in entries written by an older node
 */
public record QueueMeta(List<String> pending, int attempts, long nextAttemptMillis, long arrivalMillis,
                        String lastReason, long size, boolean held, List<String> nextHops) {
    public QueueMeta {
        pending = List.copyOf(pending);
        Objects.requireNonNull(lastReason, "lastReason");
        nextHops = List.copyOf(nextHops);
    }

    /** Not held, next hops not known. */
    public QueueMeta(List<String> pending, int attempts, long nextAttemptMillis, long arrivalMillis,
                     String lastReason, long size) {
        this(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, false, List.of());
    }

    /** Next hops not known. */
    public QueueMeta(List<String> pending, int attempts, long nextAttemptMillis, long arrivalMillis,
                     String lastReason, long size, boolean held) {
        this(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, held, List.of());
    }

    QueueMeta withHeld(boolean h) {
        return new QueueMeta(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, h, nextHops);
    }

    QueueMeta withNextAttempt(long millis) {
        return new QueueMeta(pending, attempts, millis, arrivalMillis, lastReason, size, held, nextHops);
    }

    static QueueMeta fresh(QueuedMessage message, List<String> nextHops) {
        return new QueueMeta(message.envelope().recipients(), 0, System.currentTimeMillis(),
                message.envelope().arrivalMillis(), "", message.size(), false, nextHops);
    }

    /**
     * Deferred at least once, or held back by its next hop's limits for long enough to be
     * written with its reason (a quota: the only way a never-tried entry gets a reason):
     * Postfix's deferred queue, else the active/incoming one.
     */
    public boolean deferred() {
        return attempts > 0 || !lastReason.isEmpty();
    }

    /** Which queue this state puts the message in. */
    public QueueState queueState() {
        return held ? QueueState.HOLD : deferred() ? QueueState.DEFERRED : QueueState.ACTIVE;
    }

    /** Postfix's queue name for this state: hold, deferred or active. */
    public String state() {
        return queueState().queueName();
    }
}
