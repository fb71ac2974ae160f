package io.relay.node.metrics;

import io.relay.queue.QueueEvents;
import java.util.Objects;

/**
 * The queue's hooks as metrics: each spool group-commit fsync goes into
 * {@code relay_spool_fsync_duration_seconds} (called on the journal's writer thread; the
 * histogram update is lock-free, so it never holds up the next commit), each copy operation's
 * size into {@code relay_queue_copy_batch_messages}.
 */
public final class QueueMetricsEvents implements QueueEvents {
    private final RelayMetrics metrics;

    public QueueMetricsEvents(RelayMetrics metrics) {
        this.metrics = Objects.requireNonNull(metrics, "metrics");
    }

    @Override
    public void fsyncNanos(long nanos) {
        metrics.spoolFsync(nanos);
    }

    @Override
    public void copyBatch(int messages) {
        metrics.copyBatch(messages);
    }
}
