package io.relay.queue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The queue's settings, named after Postfix's where there is one.
 *
 * @param spoolDir             node-local directory of the spool journal ({@code queue.spool-dir})
 * @param minimalBackoff       minimal_backoff_time: delay after the first deferral, doubled per attempt
 * @param maximalBackoff       maximal_backoff_time: cap on that delay
 * @param maximalQueueLifetime maximal_queue_lifetime: age after which deferred recipients expire
 * @param deliveryConcurrency  delivery worker threads on this member
 * @param maxMessages          high-water mark: messages owned by this member plus accepts in flight
 * @param maxBytes             high-water mark: content bytes of the same messages
 * @param maxIndexMemory       the index-memory mark: heap the same messages' index entries may take
 *                             here, as {@link IndexMemory} estimates it
 */
public record QueueSettings(Path spoolDir, Duration minimalBackoff, Duration maximalBackoff,
                            Duration maximalQueueLifetime, int deliveryConcurrency, long maxMessages,
                            long maxBytes, long maxIndexMemory) {
    /** No index-memory mark (tests). */
    public QueueSettings(Path spoolDir, Duration minimalBackoff, Duration maximalBackoff,
                         Duration maximalQueueLifetime, int deliveryConcurrency, long maxMessages, long maxBytes) {
        this(spoolDir, minimalBackoff, maximalBackoff, maximalQueueLifetime, deliveryConcurrency, maxMessages,
                maxBytes, Long.MAX_VALUE);
    }

    /** The default index-memory mark: 70% of the maximum heap (with -Xmx1g some 1.15 million messages on one node). */
    public static long defaultMaxIndexMemory(long maxHeap) {
        return (long) (maxHeap * 0.7);
    }

    public QueueSettings {
        Objects.requireNonNull(spoolDir, "spoolDir");
        Objects.requireNonNull(minimalBackoff, "minimalBackoff");
        Objects.requireNonNull(maximalBackoff, "maximalBackoff");
        Objects.requireNonNull(maximalQueueLifetime, "maximalQueueLifetime");
        if (minimalBackoff.isNegative() || minimalBackoff.isZero()) {
            throw new IllegalArgumentException("minimal backoff must be positive");
        }
        if (maximalBackoff.compareTo(minimalBackoff) < 0) {
            throw new IllegalArgumentException("maximal backoff below minimal backoff");
        }
        if (deliveryConcurrency < 1) {
            throw new IllegalArgumentException("delivery concurrency must be at least 1");
        }
        if (maxMessages < 1 || maxBytes < 1 || maxIndexMemory < 1) {
            throw new IllegalArgumentException("high-water marks must be positive");
        }
    }

    /**
     * The delay before attempt {@code attempt + 1} after {@code attempt} tries deferred:
     * minimal backoff doubled per earlier deferral, capped at the maximal backoff.
     */
    public long backoffMillis(int attempt) {
        long min = minimalBackoff.toMillis();
        long max = maximalBackoff.toMillis();
        int doublings = Math.min(Math.max(attempt - 1, 0), 40);
        long delay = min;
        for (int i = 0; i < doublings && delay < max; i++) {
            delay *= 2;
        }
        return Math.min(delay, max);
    }
}
