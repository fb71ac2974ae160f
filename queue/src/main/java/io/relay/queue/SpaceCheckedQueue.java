package io.relay.queue;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The queue as the SMTP server sees it when the spool's file system runs low: new mail is
 * refused with {@link QueueFullException} (452 4.3.1 at MAIL FROM through {@link #full()},
 * and at end of DATA through {@link #accept}) while {@link SpoolSpace} says so. Everything
 * else goes to the queue unchanged, and the queue's own writers (delivery's DONE and DEFER
 * records, bounces, operator changes) are not checked: the minimum is the room they keep.
 */
public final class SpaceCheckedQueue implements MessageQueue {
    private final MessageQueue queue;
    private final SpoolSpace space;

    public SpaceCheckedQueue(MessageQueue queue, SpoolSpace space) {
        this.queue = Objects.requireNonNull(queue, "queue");
        this.space = Objects.requireNonNull(space, "space");
    }

    @Override
    public QueueId newId() {
        return queue.newId();
    }

    @Override
    public java.nio.file.Path incomingBody(QueueId id) {
        return queue.incomingBody(id);
    }

    @Override
    public CompletableFuture<Void> accept(QueuedMessage message) {
        var shortage = space.shortage();
        if (shortage.isPresent()) {
            return CompletableFuture.failedFuture(new QueueFullException(shortage.get()));
        }
        space.accepted(message.size());
        return queue.accept(message);
    }

    @Override
    public boolean full() {
        return space.refusing() || queue.full();
    }

    @Override
    public void start(DeliveryHandler handler) {
        queue.start(handler);
    }

    /** Closes the queue it checks; the space's sampler is its owner's to close. */
    @Override
    public void close() {
        queue.close();
    }
}
