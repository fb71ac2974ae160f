package io.relay.node.metrics;

import java.util.Locale;

/** Circuit-breaker state of one next hop (label {@code state} of {@code relay_circuit_breaker_state}). */
public enum BreakerState {
    CLOSED,
    OPEN,
    HALF_OPEN;

    /** The Prometheus label value: the constant's name in lower case. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
