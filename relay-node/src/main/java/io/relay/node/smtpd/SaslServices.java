package io.relay.node.smtpd;

import io.relay.node.auth.AuthFailures;
import io.relay.node.auth.SaslUsers;
import io.relay.node.auth.SenderRates;
import java.util.Objects;

/**
 * What the sessions need for SMTP AUTH: who the users are, the failed attempts per client
 * (lockout) and the users' own send rates. All three may block (a slow hash, a cluster round
 * trip): the sessions call them on the blocking executor, never on the event loop.
 */
public record SaslServices(SaslUsers users, AuthFailures failures, SenderRates rates) {
    /** No users, no counting, no rates: every AUTH fails. */
    public static final SaslServices NONE = new SaslServices(SaslUsers.NONE, AuthFailures.NONE, SenderRates.NONE);

    public SaslServices {
        Objects.requireNonNull(users, "users");
        Objects.requireNonNull(failures, "failures");
        Objects.requireNonNull(rates, "rates");
    }
}
