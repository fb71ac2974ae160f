package io.relay.queue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code queue.delivery-concurrency} worker threads that take due entries from the
 * {@link DueQueue} and run their {@link Attempts}: only an entry's current due time counts,
 * one worker per id at a time, and only while this member owns the entry (not known yet:
 * again in 500 ms; owned elsewhere: untracked). A failed step is retried after the minimal
 * backoff. Owns the set of ids being delivered and the threads.
 */
final class DeliveryWorkers {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);

    private final DueQueue due;
    private final OwnedEntries owned;
    private final ClusterMember member;
    private final QueueSettings settings;
    private final BooleanSupplier closing;
    private final Set<String> delivering = ConcurrentHashMap.newKeySet();
    private final AtomicInteger inFlight = new AtomicInteger();
    private ExecutorService workers;

    DeliveryWorkers(DueQueue due, OwnedEntries owned, ClusterMember member, QueueSettings settings,
                    BooleanSupplier closing) {
        this.due = due;
        this.owned = owned;
        this.member = member;
        this.settings = settings;
        this.closing = closing;
    }

    synchronized void start(Attempts attempts) {
        workers = Executors.newFixedThreadPool(settings.deliveryConcurrency(), ClusterQueue.threads("queue-delivery"));
        for (int i = 0; i < settings.deliveryConcurrency(); i++) {
            workers.execute(() -> workLoop(attempts));
        }
    }

    /** Whether a worker holds this id now (an operator's removal then leaves its untracking to the worker). */
    boolean delivering(String id) {
        return delivering.contains(id);
    }

    /** Lets in-flight deliveries finish, up to 30 s (call after the queue is marked closing). */
    void close() {
        ExecutorService w;
        synchronized (this) {
            w = workers;
        }
        if (w == null) {
            return;
        }
        w.shutdown();
        try {
            if (!w.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("{} deliveries still running after 30 s; leaving them", inFlight.get());
                w.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void workLoop(Attempts attempts) {
        while (!closing.getAsBoolean()) {
            DueQueue.Due next;
            try {
                next = due.poll(200);
            } catch (InterruptedException e) {
                return;
            }
            if (next == null || closing.getAsBoolean()) {
                continue;
            }
            if (!owned.current(next)) {
                continue;
            }
            if (!delivering.add(next.id())) {
                owned.reschedule(next.id(), System.currentTimeMillis() + 100);
                continue;
            }
            inFlight.incrementAndGet();
            try {
                Boolean ownedHere = owned.ownedHere(next.id());
                if (ownedHere == null) {
                    owned.reschedule(next.id(), System.currentTimeMillis() + 500);
                } else if (!ownedHere) {
                    owned.untrack(next.id());
                } else {
                    attempts.attempt(next.id());
                }
            } catch (RuntimeException e) {
                if (!closing.getAsBoolean() && member.running()) {
                    LOG.warn("{}: delivery step failed, retrying after minimal backoff: {}", next.id(), e.toString());
                    owned.reschedule(next.id(), System.currentTimeMillis() + settings.minimalBackoff().toMillis());
                }
            } finally {
                delivering.remove(next.id());
                inFlight.decrementAndGet();
            }
        }
    }
}
