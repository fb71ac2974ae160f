package io.relay.queue;

import java.util.Objects;

/**
 * A message as the queue stores it: envelope plus content. The content is the message
 * as it will be sent (our Received header already prepended), lines ending in CRLF,
 * not dot-stuffed.
 */
public record QueuedMessage(QueueId id, Envelope envelope, byte[] content) {
    public QueuedMessage {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(envelope, "envelope");
        Objects.requireNonNull(content, "content");
    }

    public int size() {
        return content.length;
    }
}
