package io.relay.queue;

/** What one delivery attempt did for one recipient. */
public sealed interface RecipientOutcome {
    String recipient();

    /** Accepted by the next hop (or written/discarded by a local transport): done. */
    record Delivered(String recipient) implements RecipientOutcome {}

    /** Temporary failure (4xx, timeout, connection failure): retry after backoff. */
    record Deferred(String recipient, String reason) implements RecipientOutcome {}

    /**
     * Permanent failure (5xx, error: transport). The delivery handler has already logged
     * it and sent the DSN; the queue only forgets the recipient.
     */
    record Failed(String recipient, String reason) implements RecipientOutcome {}

    /**
     * Not tried: the next hop is busy, rate limited or paused (throttling replies). Retried
     * at {@code notBeforeMillis} without counting an attempt or backing off, as Postfix's
     * qmgr keeps such mail in its active queue; {@code reason} is used only if the message
     * expires meanwhile.
     */
    record Postponed(String recipient, long notBeforeMillis, String reason) implements RecipientOutcome {}
}
