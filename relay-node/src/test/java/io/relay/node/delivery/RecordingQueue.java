package io.relay.node.delivery;

import io.relay.queue.DeliveryHandler;
import io.relay.queue.MessageQueue;
import io.relay.queue.QueueId;
import io.relay.queue.QueuedMessage;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/** A queue double that keeps what was accepted (the DSNs), for the Dispatcher's tests. */
final class RecordingQueue implements MessageQueue {
    final List<QueuedMessage> accepted = new CopyOnWriteArrayList<>();
    private final AtomicLong next = new AtomicLong(0xA000000000L);

    @Override
    public QueueId newId() {
        return new QueueId(Long.toHexString(next.incrementAndGet()).toUpperCase());
    }

    @Override
    public CompletableFuture<Void> accept(QueuedMessage message) {
        accepted.add(message);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public boolean full() {
        return false;
    }

    @Override
    public void start(DeliveryHandler handler) {
    }

    @Override
    public void close() {
    }
}
