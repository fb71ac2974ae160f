package io.relay.node.delivery;

import java.util.List;

/**
 * The result of one SMTP delivery to one next hop.
 *
 * @param relay          {@code host[ip]:port} of the server that answered, or "none"
 * @param setupNanos     connection setup: DNS, connect, greeting, EHLO, TLS, AUTH (Postfix delays "c")
 * @param transmitNanos  MAIL to the end of DATA (Postfix delays "d")
 * @param roundTrips     command batches written in the mail transaction (1 when pipelined)
 * @param reused         the connection came from the idle cache
 * @param connectionFailure no SMTP session was established with any address of the next hop:
 *                          connect refused or timed out, a greeting other than 220, or the
 *                          connection lost or timed out before EHLO completed (what
 *                          {@link NextHopGuard}'s circuit breaker counts)
 * @param held           not null when the transaction gate held the recipients back (no MAIL FROM sent)
 */
public record SmtpDelivery(String relay, long setupNanos, long transmitNanos, int roundTrips, boolean reused,
                           List<RecipientResult> results, boolean connectionFailure, SmtpClient.Held held) {
    public SmtpDelivery {
        results = List.copyOf(results);
    }

    public SmtpDelivery(String relay, long setupNanos, long transmitNanos, int roundTrips, boolean reused,
                        List<RecipientResult> results, boolean connectionFailure) {
        this(relay, setupNanos, transmitNanos, roundTrips, reused, results, connectionFailure, null);
    }

    public SmtpDelivery(String relay, long setupNanos, long transmitNanos, int roundTrips, boolean reused,
                        List<RecipientResult> results) {
        this(relay, setupNanos, transmitNanos, roundTrips, reused, results, false, null);
    }
}
