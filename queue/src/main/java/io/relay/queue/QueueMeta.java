package io.relay.queue;

import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * A message's entry in the cluster's queue index ({@code relay-meta}): small, rewritten
 * after each attempt, while the message itself (envelope and content) stays immutable on
 * the disks of the members listed in {@code holders} ({@link BodyStore}).
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
 * @param sender            the envelope sender ("" for the null sender), for the views and the next hops
 * @param holders           the members (Hazelcast member UUIDs) whose disks hold the message's body:
 *                          the accepting member first, then its copies; empty only in entries of tests
 * @param restored          put back from a member's disk by a replay or a reconcile: other members
 *                          may hold copies that would put it back again, so finishing it leaves a
 *                          tombstone ({@code relay-done}) for their replays to find
 */
public record QueueMeta(List<String> pending, int attempts, long nextAttemptMillis, long arrivalMillis,
                        String lastReason, long size, boolean held, List<String> nextHops, String sender,
                        List<UUID> holders, boolean restored) {
    public QueueMeta {
        pending = List.copyOf(pending);
        Objects.requireNonNull(lastReason, "lastReason");
        nextHops = List.copyOf(nextHops);
        Objects.requireNonNull(sender, "sender");
        holders = List.copyOf(holders);
    }

    /** Not restored. */
    public QueueMeta(List<String> pending, int attempts, long nextAttemptMillis, long arrivalMillis,
                     String lastReason, long size, boolean held, List<String> nextHops, String sender,
                     List<UUID> holders) {
        this(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, held, nextHops, sender, holders,
                false);
    }

    /** Sender and holders not known. */
    public QueueMeta(List<String> pending, int attempts, long nextAttemptMillis, long arrivalMillis,
                     String lastReason, long size, boolean held, List<String> nextHops) {
        this(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, held, nextHops, "", List.of());
    }

    /** Next hops not known (entries written by tests). */
    public QueueMeta(List<String> pending, int attempts, long nextAttemptMillis, long arrivalMillis,
                     String lastReason, long size, boolean held) {
        this(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, held, List.of());
    }

    QueueMeta withHeld(boolean h) {
        return new QueueMeta(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, h, nextHops,
                sender, holders, restored);
    }

    QueueMeta withNextAttempt(long millis) {
        return new QueueMeta(pending, attempts, millis, arrivalMillis, lastReason, size, held, nextHops, sender,
                holders, restored);
    }

    QueueMeta withHolders(List<UUID> h) {
        return new QueueMeta(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, held, nextHops,
                sender, h, restored);
    }

    QueueMeta asRestored() {
        return new QueueMeta(pending, attempts, nextAttemptMillis, arrivalMillis, lastReason, size, held, nextHops,
                sender, holders, true);
    }

    /** The same entry after an attempt: {@code next}'s delivery state, this entry's sender, holders and origin. */
    QueueMeta carrying(QueueMeta next) {
        return new QueueMeta(next.pending, next.attempts, next.nextAttemptMillis, next.arrivalMillis,
                next.lastReason, next.size, next.held, next.nextHops, sender, holders, restored);
    }

    static QueueMeta fresh(QueuedMessage message, List<String> nextHops, List<UUID> holders) {
        return new QueueMeta(message.envelope().recipients(), 0, System.currentTimeMillis(),
                message.envelope().arrivalMillis(), "", message.size(), false, nextHops,
                message.envelope().sender(), holders);
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
