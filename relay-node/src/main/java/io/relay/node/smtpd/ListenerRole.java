package io.relay.node.smtpd;

/**
 * What a listener is for, which decides TLS and AUTH on it (Postfix: the smtpd entries of
 * master.cf with their {@code -o} overrides).
 *
 * <ul>
 * <li>{@link #MTA}: {@code smtpd.listen}, port 25 behind the load balancer: STARTTLS offered,
 *     relaying by {@code mynetworks} and {@code relay-domains}; AUTH only when
 *     {@code smtpd.sasl-auth-enable} is on.</li>
 * <li>{@link #SUBMISSION}: {@code smtpd.submission.listen}, port 587 (RFC 6409): STARTTLS, then AUTH;
 *     a client outside mynetworks must authenticate before MAIL.</li>
 * <li>{@link #SUBMISSIONS}: {@code smtpd.submissions.listen}, port 465 (RFC 8314): TLS from the first
 *     byte, then AUTH as on submission.</li>
 * </ul>
 *
 * AUTH is offered only once TLS is up, on every role ({@code smtpd_tls_auth_only}).
 */
public enum ListenerRole {
    MTA("smtpd.listen"),
    SUBMISSION("smtpd.submission.listen"),
    SUBMISSIONS("smtpd.submissions.listen");

    private final String key;

    ListenerRole(String key) {
        this.key = key;
    }

    /** The configuration key that lists the listeners of this role. */
    public String key() {
        return key;
    }

    /** TLS starts with the connection, before the greeting. */
    boolean implicitTls() {
        return this == SUBMISSIONS;
    }

    /** A client outside mynetworks must AUTH before MAIL ({@code 530 5.7.0}). */
    boolean authRequired() {
        return this != MTA;
    }

    /** Whether AUTH is offered on a listener of this role. */
    boolean offersAuth(boolean saslAuthEnable) {
        return this != MTA || saslAuthEnable;
    }
}
