package io.relay.queue;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Messages accepted and owned here, kept from the accept to their first attempt, which
 * then reads neither map (the usual life of a message: accepted, delivered at once).
 * Any change of the state in the store drops the entry (the attempt reads the store
 * then); bounded by {@link #MAX_BYTES}, beyond which attempts read the store.
 * Owns the {@code fresh} map; everyone else goes through {@link #keep} and {@link #take}.
 */
final class FreshCache {
    static final long MAX_BYTES = 32L << 20;

    /** The message as accepted and its encoded first state. */
    record Fresh(QueuedMessage message, byte[] state) {
    }

    private final Map<String, Fresh> fresh = new ConcurrentHashMap<>();
    private final AtomicLong bytes = new AtomicLong();

    void keep(QueuedMessage message, byte[] state) {
        long heap = heapBytes(message);
        if (bytes.get() + heap <= MAX_BYTES
                && fresh.putIfAbsent(message.id().value(), new Fresh(message, state)) == null) {
            bytes.addAndGet(heap);
        }
    }

    /** What the message holds in the heap: a large message's content is a file, only its prefix is here. */
    private static long heapBytes(QueuedMessage message) {
        return message.body() instanceof MessageBody.OnDisk d ? d.prefix().length : message.size();
    }

    /** Removes and answers the kept message, null when none. */
    Fresh take(String id) {
        Fresh f = fresh.remove(id);
        if (f != null) {
            bytes.addAndGet(-heapBytes(f.message()));
        }
        return f;
    }

    boolean contains(String id) {
        return fresh.containsKey(id);
    }
}
