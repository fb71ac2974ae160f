package io.relay.node.metrics;

import java.util.Locale;

/** Postfix-style queue a message is in (label {@code state} of {@code relay_queue_messages}). */
public enum QueueState {
    INCOMING,
    ACTIVE,
    DEFERRED,
    HOLD;

    /** The Prometheus label value: the constant's name in lower case. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
