package io.relay.queue;

import java.util.concurrent.DelayQueue;
import java.util.concurrent.Delayed;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The due times of this member's owned entries, which {@link DeliveryWorkers} take in
 * order. Each due time carries a token; only the one {@link OwnedEntries} holds for the
 * id is current, so a rescheduled entry's older due times are skipped and no two workers
 * of a member hold the same message. Owns the {@link DelayQueue}.
 */
final class DueQueue {
    /** One due time of one entry. */
    record Due(String id, long atMillis, long token) implements Delayed {
        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(atMillis - System.currentTimeMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public int compareTo(Delayed other) {
            return Long.compare(atMillis, ((Due) other).atMillis);
        }
    }

    private final DelayQueue<Due> due = new DelayQueue<>();
    private final AtomicLong tokens = new AtomicLong();

    long nextToken() {
        return tokens.incrementAndGet();
    }

    void add(String id, long atMillis, long token) {
        due.add(new Due(id, atMillis, token));
    }

    /** The next due entry, or null after {@code millis} without one. */
    Due poll(long millis) throws InterruptedException {
        return due.poll(millis, TimeUnit.MILLISECONDS);
    }
}
