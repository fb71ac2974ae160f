package io.relay.node.metrics;

import java.util.Locale;

/** Why the SMTP server refused a message or recipient (label {@code reason} of {@code relay_messages_rejected_total}). */
public enum RejectReason {
    RELAY_DENIED,
    SENDER_DENIED,
    SIZE,
    SYNTAX,
    BACKPRESSURE,
    HOPS,
    BARE_NEWLINE,
    /** The node's receive budget for DATA in progress ({@code smtpd.receive-memory-limit}) had no room. */
    MEMORY,
    TLS_REQUIRED,
    TIMEOUT,
    OTHER;

    /** The Prometheus label value: the constant's name in lower case. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
