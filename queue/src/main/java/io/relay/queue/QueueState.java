package io.relay.queue;

/**
 * Which of Postfix's queues a message's delivery state puts it in: the one encoding of
 * "held, deferred or active", derived from {@link QueueMeta} ({@link QueueMeta#queueState})
 * and used alike by the gauges, the operator's selections and the views.
 */
public enum QueueState {
    /** Neither held nor deferred: never attempted, or being attempted (Postfix's incoming/active). */
    ACTIVE("active"),
    /** Deferred at least once, or held back by its next hop's limits long enough to be shown, and not held. */
    DEFERRED("deferred"),
    /** Put on hold by an operator, whatever its attempts. */
    HOLD("hold");

    private final String queueName;

    QueueState(String queueName) {
        this.queueName = queueName;
    }

    /** Postfix's queue name: what {@code relayctl queue} shows and selects by. */
    public String queueName() {
        return queueName;
    }
}
