package io.relay.node.smtpd;

import io.relay.queue.DeliveryHandler;
import io.relay.queue.MessageQueue;
import io.relay.queue.QueueFullException;
import io.relay.queue.QueueId;
import io.relay.queue.QueuedMessage;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/** Test double of the queue: records accepted messages; can be told to be full or to fail. */
final class InMemoryQueue implements MessageQueue {
    enum Behaviour { ACCEPT, FULL_AT_ACCEPT, IO_ERROR }

    final List<QueuedMessage> accepted = new CopyOnWriteArrayList<>();
    private final AtomicLong ids = new AtomicLong(0x3F2A9C0100L);
    volatile Behaviour behaviour = Behaviour.ACCEPT;
    volatile boolean full;

    @Override
    public QueueId newId() {
        return new QueueId(String.format("%010X", ids.incrementAndGet()));
    }

    @Override
    public CompletableFuture<Void> accept(QueuedMessage message) {
        return switch (behaviour) {
            case ACCEPT -> {
                accepted.add(message);
                yield CompletableFuture.completedFuture(null);
            }
            case FULL_AT_ACCEPT -> CompletableFuture.failedFuture(new QueueFullException("max-messages"));
            case IO_ERROR -> CompletableFuture.failedFuture(new IOException("disk gone"));
        };
    }

    @Override
    public boolean full() {
        return full;
    }

    @Override
    public void start(DeliveryHandler handler) {
    }

    @Override
    public void close() {
    }
}
