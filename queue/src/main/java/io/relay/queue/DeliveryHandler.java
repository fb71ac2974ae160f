package io.relay.queue;

import java.util.List;

/**
 * The node's delivery side, called by the queue's scheduler on the member that owns the
 * message. Implemented in relay-node (routing, SMTP client, local transports, DSNs, mail
 * log); the queue knows nothing of SMTP.
 */
public interface DeliveryHandler {

    /**
     * Delivers the pending recipients and returns one outcome per recipient. Runs on a
     * queue worker thread and may block.
     */
    List<RecipientOutcome> deliver(DeliveryAttempt attempt);

    /**
     * The message outlived {@code queue.maximal-queue-lifetime} with these recipients still
     * deferred: log them as expired and return them to the sender. Called once; the queue
     * then forgets the message.
     */
    void expired(QueuedMessage message, List<RecipientOutcome.Deferred> lastOutcomes);
}
