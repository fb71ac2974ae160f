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
    /** MAIL before AUTH on a submission listener from outside mynetworks (530 5.7.0). */
    AUTH_REQUIRED,
    /** An authenticated user over its own send rate (450 4.7.1); SENDER_DENIED is a sender it does not own. */
    SENDER_RATE,
    TIMEOUT,
    OTHER;

    /** The Prometheus label value: the constant's name in lower case. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
