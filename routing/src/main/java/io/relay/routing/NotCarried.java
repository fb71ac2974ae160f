package io.relay.routing;

/**
 * A Postfix setting the import did not carry over, and why.
 *
 * @param setting e.g. {@code main.cf: mydestination} or {@code master.cf ses: -o smtp_sasl_mechanism_filter}
 * @param value   the value as written (never a password: tables are not echoed)
 * @param reason  why it was not carried
 */
public record NotCarried(String setting, String value, String reason) { }
