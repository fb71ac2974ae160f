package io.relay.queue;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * The queue as the SMTP server and the node see it.
 *
 * <p>Durability contract: the future returned by {@link #accept} completes only when the
 * message is fsync'd in this node's spool journal and stored in the cluster map (with its
 * synchronous backups). Only then may the SMTP server answer 250.
 */
public interface MessageQueue extends AutoCloseable {

    /** A new cluster-unique id, taken at MAIL FROM as Postfix does. */
    QueueId newId();

    /**
     * Where the SMTP server may stream the content of a large message with this id as it
     * arrives, to accept it as a {@link MessageBody.OnDisk} at that path; null when this
     * queue takes contents in the heap only.
     */
    default Path incomingBody(QueueId id) {
        return null;
    }

    /**
     * Stores the message durably. Completes exceptionally with {@link QueueFullException}
     * above the high-water marks, or with an I/O error; the message is then not accepted.
     * Does not block (an event loop may call it), except for a message whose content is on
     * disk ({@link #incomingBody}): its file is fsync'd first; the future may complete on a queue,
     * journal or Hazelcast thread, so its dependents must not block either.
     */
    CompletableFuture<Void> accept(QueuedMessage message);

    /** Whether new mail would be refused now (above a high-water mark). */
    boolean full();

    /** Starts scheduling deliveries through the handler, after replaying the spool. */
    void start(DeliveryHandler handler);

    @Override
    void close();
}
