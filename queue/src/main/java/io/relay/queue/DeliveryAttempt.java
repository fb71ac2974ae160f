package io.relay.queue;

import java.util.List;

/**
 * One try at the recipients of a message that are still owed.
 *
 * @param message    the stored message
 * @param recipients the recipients still pending, a subset of the envelope's
 * @param attempt    1 for the first try
 */
public record DeliveryAttempt(QueuedMessage message, List<String> recipients, int attempt) {
    public DeliveryAttempt {
        recipients = List.copyOf(recipients);
    }
}
