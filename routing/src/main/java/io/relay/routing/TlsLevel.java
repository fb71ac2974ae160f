package io.relay.routing;

import java.util.Locale;

/** Postfix's smtp_tls_security_level values, with their meanings. */
public enum TlsLevel {
    /** Never STARTTLS. */
    NONE,
    /** STARTTLS when offered, no certificate check; plaintext when not offered. */
    MAY,
    /** STARTTLS required, no certificate check. */
    ENCRYPT,
    /** STARTTLS required, chain checked against the CA file (or the JDK's trust store). */
    VERIFY,
    /** As verify, and the certificate must name the next-hop host. */
    SECURE;

    public static TlsLevel parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("'" + text + "' is not a TLS security level (none, may, encrypt, verify, secure)");
        }
    }

    public boolean required() {
        return this.compareTo(ENCRYPT) >= 0;
    }

    public String postfixName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
