package io.relay.node.metrics;

import java.util.Locale;

/** What became of an SMTP connection (label {@code result} of {@code relay_smtp_connections_total}); ACCEPTED reached the greeting, the rest were closed before it. */
public enum ConnectionResult {
    ACCEPTED,
    CONNECTION_LIMIT,
    CLIENT_LIMIT,
    PROXY_UNTRUSTED,
    PROXY_MALFORMED,
    PROXY_MISSING,
    DRAINING;

    /** The Prometheus label value: the constant's name in lower case. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
