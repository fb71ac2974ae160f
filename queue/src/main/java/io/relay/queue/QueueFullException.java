package io.relay.queue;

/** The queue is above a high-water mark: answer 452 4.3.1, do not accept. */
public final class QueueFullException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public QueueFullException(String reason) {
        super(reason);
    }
}
