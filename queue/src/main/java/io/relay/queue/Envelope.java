package io.relay.queue;

import java.util.List;
import java.util.Objects;

/**
 * What the SMTP dialogue established about a message, kept with it in the queue.
 *
 * @param sender        reverse-path without angle brackets; "" for the null sender {@code <>}
 * @param recipients    forward-paths without angle brackets, in RCPT order
 * @param clientName    client host name as logged ("unknown" when not resolved)
 * @param clientAddress client IP address as text (the PROXY-protocol address when behind a load balancer)
 * @param heloName      the EHLO/HELO argument
 * @param protocol      SMTP, ESMTP, ESMTPS, ESMTPSA ... as in the Received header
 * @param smtpUtf8      MAIL ... SMTPUTF8 was given
 * @param eightBitMime  MAIL ... BODY=8BITMIME was given
 * @param arrivalMillis epoch milliseconds when end-of-DATA was accepted
 */
public record Envelope(String sender, List<String> recipients, String clientName, String clientAddress,
                       String heloName, String protocol, boolean smtpUtf8, boolean eightBitMime,
                       long arrivalMillis) {
    public Envelope {
        Objects.requireNonNull(sender, "sender");
        recipients = List.copyOf(recipients);
        if (recipients.isEmpty()) {
            throw new IllegalArgumentException("an envelope needs at least one recipient");
        }
    }

    public boolean nullSender() {
        return sender.isEmpty();
    }
}
