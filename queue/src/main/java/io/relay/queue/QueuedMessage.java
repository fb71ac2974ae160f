package io.relay.queue;

import java.util.Objects;

/**
 * A message as the queue stores it: envelope plus content. The content is the message
 * as it will be sent (our Received header already prepended), lines ending in CRLF,
 * not dot-stuffed; in the heap or, for large mail, on disk ({@link MessageBody}).
 */
public record QueuedMessage(QueueId id, Envelope envelope, MessageBody body) {
    public QueuedMessage {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(envelope, "envelope");
        Objects.requireNonNull(body, "body");
    }

    /** A message whose content is in the heap. */
    public QueuedMessage(QueueId id, Envelope envelope, byte[] content) {
        this(id, envelope, new MessageBody.InMemory(content));
    }

    /**
     * The content when it is in the heap. Code that may meet a body on disk (delivery, DSNs,
     * operator views) uses {@link #body} instead: this refuses to load one whole.
     */
    public byte[] content() {
        if (body instanceof MessageBody.InMemory m) {
            return m.bytes();
        }
        throw new IllegalStateException(id + ": the content is on disk (" + body.length() + " bytes)");
    }

    /** Whether the content is a file on disk rather than in the heap. */
    public boolean onDisk() {
        return body instanceof MessageBody.OnDisk;
    }

    public long size() {
        return body.length();
    }
}
