package io.relay.node.auth;

import java.util.Optional;

/**
 * Checks a login name and password against the users the node knows (the cluster's users
 * table, seeded from {@code smtpd.sasl-users-file}). Verifying is slow on purpose (a salted
 * Argon2id or bcrypt hash), so callers run it off the event loop.
 */
public interface SaslUsers {
    /** The user when {@code name} exists and {@code password} matches; empty otherwise (no reason given). */
    Optional<SaslUser> authenticate(String name, String password);

    /** Knows no user: every AUTH fails. */
    SaslUsers NONE = (name, password) -> Optional.empty();
}
