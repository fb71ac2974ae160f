package io.relay.node.metrics;

import java.util.Locale;

/** Outcome of one delivery attempt for one recipient, as in the queue's RecipientOutcome (label {@code result}). */
public enum DeliveryResult {
    DELIVERED,
    DEFERRED,
    FAILED;

    /** The Prometheus label value: the constant's name in lower case. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
