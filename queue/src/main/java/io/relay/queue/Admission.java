package io.relay.queue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The accept path and the high-water marks. An accept starts three writes at once, none
 * waited for by a thread of ours: the spool's group commit (the body on this node's disk),
 * the copies on {@code queue.backup-count} other members' disks ({@link BodyStore}), and the
 * index entry in {@code relay-meta}, on a partition this member owns (see
 * {@link ClusterQueue#newId}) with its synchronous backup. The last of the three to
 * complete finishes the accept on its own thread (journal writer, Hazelcast partition,
 * response or executor thread): bookkeeping only, then the caller's future; if one failed,
 * the others are undone.
 *
 * <p>High-water marks ({@code queue.max-messages}, {@code queue.max-bytes}, and the
 * index-memory mark {@code queue.max-index-memory}, {@link IndexMemory}): the messages this
 * member owns ({@link OwnedEntries}) plus the accepts in flight here, their bytes, and the
 * heap their index entries take.
 * Owns the set of ids being accepted (the store's events for them are filtered out, and
 * reconcile leaves them alone) and the in-flight counters.
 */
final class Admission {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    /** Runs a stage's action on the thread that completed it; for short, non-blocking actions only. */
    private static final Executor ON_COMPLETION = Runnable::run;

    private final QueueSettings settings;
    private final OwnedEntries owned;
    private final FreshCache fresh;
    private final SpoolJournal journal;
    private final BodyStore bodies;
    private final QueueMaps maps;
    private final String epoch;
    private final NextHopNamer hops;
    private final BooleanSupplier closing;
    private final IndexMemory index;
    private final AtomicLong acceptingCount = new AtomicLong();
    private final AtomicLong acceptingBytes = new AtomicLong();
    private final Set<String> accepting = ConcurrentHashMap.newKeySet();

    Admission(QueueSettings settings, OwnedEntries owned, FreshCache fresh, BodyStore bodies, QueueMaps maps,
              String epoch, NextHopNamer hops, BooleanSupplier closing, IndexMemory index) {
        this.index = index;
        this.settings = settings;
        this.owned = owned;
        this.fresh = fresh;
        this.journal = bodies.accepted();
        this.bodies = bodies;
        this.maps = maps;
        this.epoch = epoch;
        this.hops = hops;
        this.closing = closing;
    }

    CompletableFuture<Void> accept(QueuedMessage message) {
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (closing.getAsBoolean()) {
            result.completeExceptionally(new IllegalStateException("queue is shutting down"));
            return result;
        }
        long size = message.size();
        long count = acceptingCount.incrementAndGet();
        long bytes = acceptingBytes.addAndGet(size);
        if (owned.count() + count > settings.maxMessages() || owned.bytes() + bytes > settings.maxBytes()
                || index.above(owned.count() + count)) {
            acceptingCount.decrementAndGet();
            acceptingBytes.addAndGet(-size);
            result.completeExceptionally(new QueueFullException(
                    "queue above high-water mark (" + owned.count() + " messages, " + owned.bytes() + " bytes, index "
                            + (index.estimate(owned.count()) >> 20) + " MiB of " + (index.limit() >> 20) + " MiB)"));
            return result;
        }
        String id = message.id().value();
        accepting.add(id);
        if (message.onDisk()) {
            // a large message's content file first, fsync'd and in its place before its journal
            // record exists (the record promises the file); this blocks, and the SMTP server
            // accepts large messages off its event loops
            try {
                message = bodies.settleAccepted(message);
            } catch (IOException | RuntimeException e) {
                return refused(id, size, e, result);
            }
        }
        byte[] encoded = BinaryCodec.encodeMessage(message);
        BodyStore.Stored stored = new BodyStore.Stored(encoded,
                message.body() instanceof MessageBody.OnDisk d ? d.file() : null);
        List<UUID> copies;
        List<UUID> holders;
        try {
            copies = bodies.copyTargets(id);
            holders = new ArrayList<>(copies.size() + 1);
            holders.add(bodies.self());
            holders.addAll(copies);
        } catch (RuntimeException e) { // the member is shutting down
            return refused(id, size, e, result);
        }
        byte[] state = BinaryCodec.encodeMeta(QueueMeta.fresh(message,
                hops.nextHops(message.envelope().sender(), message.envelope().recipients()), holders));
        Storing storing = new Storing(message, holders, result);
        if (owned.ownedHere(id) == Boolean.TRUE) {
            fresh.keep(message, state);
        }
        // Three writes at once, none waited for by a thread of ours: the spool's group commit, the
        // copies on other members' disks and the index entry. The last of the three to complete
        // finishes the accept on its own thread (journal writer, Hazelcast partition, response or
        // executor thread): bookkeeping only, then the caller's future.
        journal.accept(message.id(), epoch, encoded).whenComplete(storing);
        int issued = 0;
        try {
            bodies.replicate(id, stored, copies).whenComplete(storing);
            issued++;
            maps.meta().setAsync(id, state).whenCompleteAsync(storing, ON_COMPLETION);
            issued++;
        } catch (RuntimeException e) { // the member is shutting down
            for (; issued < 2; issued++) {
                storing.accept(null, e);
            }
        }
        return result;
    }

    /** Gives back what an accept refused before its writes started had counted, and its incoming file. */
    private CompletableFuture<Void> refused(String id, long size, Throwable e, CompletableFuture<Void> result) {
        acceptingCount.decrementAndGet();
        acceptingBytes.addAndGet(-size);
        accepting.remove(id);
        bodies.discardIncoming(id);
        result.completeExceptionally(e);
        return result;
    }

    /** One accept's three writes (spool, copies, index entry): the last to complete finishes the accept. */
    private final class Storing implements BiConsumer<Object, Throwable> {
        private final QueuedMessage message;
        private final List<UUID> holders;
        private final CompletableFuture<Void> result;
        private volatile List<UUID> copied;
        private final AtomicInteger left = new AtomicInteger(3);
        private volatile Throwable error;

        /** This member, then the members that did keep a copy (the planned ones when the copies' stage failed). */
        private List<UUID> actualHolders() {
            List<UUID> c = copied;
            if (c == null) {
                return holders;
            }
            List<UUID> actual = new ArrayList<>(c.size() + 1);
            actual.add(holders.get(0));
            actual.addAll(c);
            return actual;
        }

        Storing(QueuedMessage message, List<UUID> holders, CompletableFuture<Void> result) {
            this.message = message;
            this.holders = holders;
            this.result = result;
        }

        @Override
        @SuppressWarnings("unchecked")
        public void accept(Object value, Throwable failure) {
            if (value instanceof List<?> list) { // the copies' stage: the members that have it
                copied = (List<UUID>) list;
            }
            if (failure != null && error == null) {
                error = failure instanceof CompletionException && failure.getCause() != null
                        ? failure.getCause() : failure;
            }
            if (left.decrementAndGet() != 0) {
                return;
            }
            String id = message.id().value();
            acceptingCount.decrementAndGet();
            acceptingBytes.addAndGet(-message.size());
            accepting.remove(id);
            Throwable e = error;
            List<UUID> actual = actualHolders();
            if (e == null && !actual.equals(holders)) {
                // a copy target did not answer and was replaced (or none was left): the index says who has it
                try {
                    maps.meta().submitToKey(id, new QueueOps.SetHolders(holders, actual));
                } catch (RuntimeException notActive) { // never leave the accept unanswered over it
                    LOG.debug("{}: holders not rewritten: {}", id, notActive.toString());
                }
            }
            if (e == null) {
                // Scheduled here, not by the store's ADDED event (filtered out for our own accepts).
                // Ownership unknown (moving): scheduled anyway, the worker checks it again.
                if (owned.ownedHere(id) != Boolean.FALSE) {
                    owned.schedule(id, System.currentTimeMillis(), message.size(), QueueState.ACTIVE,
                            message.envelope().arrivalMillis());
                } else {
                    fresh.take(id);
                }
                result.complete(null);
            } else {
                LOG.warn("{}: not accepted: {}", id, e.toString());
                fresh.take(id);
                undo(message.id(), actual.subList(1, actual.size()));
                result.completeExceptionally(e);
            }
        }
    }

    private void undo(QueueId id, List<UUID> copies) { // this member's DONE, and release notices to the copies
        maps.meta().deleteAsync(id.value());
        bodies.release(id.value(), copies);
    }

    /** Whether new mail would be refused now (above a high-water mark). */
    boolean full() {
        return owned.count() + acceptingCount.get() >= settings.maxMessages()
                || owned.bytes() + acceptingBytes.get() >= settings.maxBytes()
                || index.above(owned.count() + acceptingCount.get() + 1);
    }

    /** Whether this id's accept is under way here (its store events are this node's own). */
    boolean accepting(String id) {
        return accepting.contains(id);
    }

    /** Accepts in flight: spooled or being stored, no answer yet. */
    long incoming() {
        return acceptingCount.get();
    }

    /** Waits up to {@code millis} for accepts under way to finish on Hazelcast's and the journal's threads. */
    void awaitIdle(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (acceptingCount.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
    }
}
