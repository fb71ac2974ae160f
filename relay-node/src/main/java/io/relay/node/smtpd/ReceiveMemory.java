package io.relay.node.smtpd;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The node-wide budget of heap bytes held by messages being received: every session's
 * DATA buffer is reserved here before it is allocated, so the sum of all DATA in progress
 * stays bounded whatever many clients send (issue 16: 64 sessions of 9 MB without the
 * final dot used to end in an OutOfMemoryError).
 *
 * <p>Strategy: one atomic counter, touched only when a framer allocates or grows its buffer
 * (which doubles, so a few times per message) and when it lets the buffer go; never per
 * byte. Buffers of up to {@link #SMALL} bytes may use the whole budget, larger ones only
 * three quarters of it, so that ordinary mail still finds room while a few large messages
 * (or an attacker streaming them) hold the rest. A refused reservation makes the session
 * drop what it holds and answer {@code 452 4.3.1} at DATA or at the final dot.
 *
 * <p>Settings: {@code smtpd.receive-memory-limit} (bytes; 0, the default, means a quarter of
 * the JVM's maximum heap, {@link #defaultLimit}).
 */
public final class ReceiveMemory {
    /** Buffers up to this size (the framer keeps one of them between messages) may use the whole budget. */
    static final int SMALL = 256 * 1024;
    /** No bound: for tools and tests that run a framer alone. */
    public static final ReceiveMemory UNLIMITED = new ReceiveMemory(Long.MAX_VALUE);

    private final long limit;
    private final long largeLimit;
    private final AtomicLong reserved = new AtomicLong();

    public ReceiveMemory(long limit) {
        if (limit <= 0) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        this.limit = limit;
        this.largeLimit = limit - limit / 4;
    }

    /** A quarter of the maximum heap: the queue's messages and Hazelcast need the rest. */
    public static long defaultLimit(long maxHeap) {
        return Math.max(maxHeap / 4, 1L << 20);
    }

    /** The budget for {@code smtpd.receive-memory-limit}: {@code configured}, or 0 for the heap-derived default. */
    public static ReceiveMemory of(long configured) {
        return new ReceiveMemory(configured > 0 ? configured : defaultLimit(Runtime.getRuntime().maxMemory()));
    }

    /** Reserves {@code bytes} for a buffer about to be allocated; false when the budget has no room. */
    boolean tryReserve(long bytes) {
        long ceiling = bytes > SMALL ? largeLimit : limit;
        long now;
        do {
            now = reserved.get();
            if (now + bytes > ceiling) {
                return false;
            }
        } while (!reserved.compareAndSet(now, now + bytes));
        return true;
    }

    void release(long bytes) {
        reserved.addAndGet(-bytes);
    }

    /** More than half the budget is in use: sessions then give back the buffer they keep between messages. */
    boolean underPressure() {
        return reserved.get() > limit / 2;
    }

    public long reserved() {
        return reserved.get();
    }

    public long limit() {
        return limit;
    }
}
