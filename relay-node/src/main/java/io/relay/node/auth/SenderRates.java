package io.relay.node.auth;

/**
 * A SASL user's own send rate ({@link SaslUser#rates()}), counted for the whole cluster by
 * the same limiter as the destinations' rates. One message is one permit, taken at MAIL
 * FROM; a refusal is {@code 450 4.7.1}.
 */
public interface SenderRates {
    /** Takes one permit for {@code user}'s next message; false when one of its rates is used up. Never waits. */
    boolean tryAcquire(SaslUser user);

    /** Limits no one. */
    SenderRates NONE = user -> true;
}
