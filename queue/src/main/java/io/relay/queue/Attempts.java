package io.relay.queue;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One delivery attempt of one owned message, run by a {@link DeliveryWorkers} thread: reads
 * the state (from the {@link FreshCache} on a first attempt, else the store), calls the
 * {@link DeliveryHandler}, and applies what the {@link OutcomePolicy} decides to the store
 * (compare-and-set on the state read, keeping an operator's hold set meanwhile, so a deleted
 * message is never written back), the spool and the schedule. A held entry is not attempted:
 * it is parked and looked at again every {@link ClusterQueue#HELD_RECHECK_MILLIS} ms.
 */
final class Attempts {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    /** How long a never-tried entry's state may be seen without its message before it is dropped as debris. */
    private static final long MESSAGE_WAIT_MILLIS = 60_000;

    private final OwnedEntries owned;
    private final FreshCache fresh;
    private final QueueMaps maps;
    private final SpoolJournal journal;
    private final BodyStore bodies;
    private final QueueSettings settings;
    private final OutcomePolicy policy;
    private final NextHopNamer hops;
    private final Reconciler reconciler;
    private final QueueEvents events;
    private final DeliveryHandler handler;

    Attempts(OwnedEntries owned, FreshCache fresh, QueueMaps maps, BodyStore bodies, QueueSettings settings,
             NextHopNamer hops, Reconciler reconciler, QueueEvents events, DeliveryHandler handler) {
        this.owned = owned;
        this.fresh = fresh;
        this.maps = maps;
        this.journal = bodies.accepted();
        this.bodies = bodies;
        this.settings = settings;
        this.policy = new OutcomePolicy(settings);
        this.hops = hops;
        this.reconciler = reconciler;
        this.events = events;
        this.handler = handler;
    }

    void attempt(String id) {
        FreshCache.Fresh kept = fresh.take(id);
        byte[] stateBytes = kept != null ? kept.state() : maps.meta().get(id);
        if (stateBytes == null) {
            // Finished elsewhere, or gone with a lost partition: the spool that owes it decides
            // (reconcile), never this absence alone.
            owned.untrack(id);
            return;
        }
        QueueMeta state = BinaryCodec.decodeMeta(stateBytes);
        if (kept == null) { // a kept message is active, as its accept counted it
            owned.state(id, state.queueState());
        }
        long now = System.currentTimeMillis();
        if (state.held()) {
            owned.reschedule(id, now + ClusterQueue.HELD_RECHECK_MILLIS);
            return;
        }
        if (state.nextAttemptMillis() > now + 20) {
            owned.reschedule(id, state.nextAttemptMillis());
            return;
        }
        QueuedMessage message = kept != null ? kept.message() : storedMessage(id, state, now);
        if (message == null) {
            return;
        }
        int attemptNo = state.attempts() + 1;
        events.active(message, attemptNo, state.pending().size());
        List<RecipientOutcome> outcomes;
        try {
            outcomes = handler.deliver(new DeliveryAttempt(message, state.pending(), attemptNo));
            if (outcomes == null) {
                throw new IllegalStateException("delivery handler returned no outcomes");
            }
        } catch (RuntimeException e) {
            LOG.warn("{}: delivery handler failed; deferring all pending recipients", id, e);
            events.handlerFailed(message.id(), e);
            String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            outcomes = OutcomePolicy.allDeferred(state.pending(), reason);
        }
        long after = System.currentTimeMillis();
        OutcomePolicy.Decision decision = policy.decide(state, outcomes, after, OutcomePolicy.RANDOM_JITTER);
        if (decision instanceof OutcomePolicy.Finished) {
            finish(message.id(), state);
        } else if (decision instanceof OutcomePolicy.Expired x) {
            try {
                handler.expired(message, x.lastOutcomes());
            } catch (RuntimeException e) {
                LOG.warn("{}: expiry handler failed; removing the message anyway", id, e);
            }
            finish(message.id(), state);
        } else if (decision instanceof OutcomePolicy.Postponed p) {
            // No attempt counted, no backoff; the state is rewritten only when it changes.
            if (p.rewrite()) {
                QueueMeta written = p.written(state, hops.nextHops(message.envelope().sender(), p.pending()));
                if (!writeBack(id, stateBytes, written)) {
                    return;
                }
                journal.deferred(message.id(), state.attempts(), p.nextAttemptMillis(), p.pending());
                owned.state(id, written.queueState());
            }
            events.postponed(message.id(), p.pending().size(), p.nextAttemptMillis() - after);
            owned.reschedule(id, p.nextAttemptMillis());
        } else if (decision instanceof OutcomePolicy.Deferred d) {
            if (!writeBack(id, stateBytes, d.written(state, hops.nextHops(message.envelope().sender(), d.pending())))) {
                return;
            }
            journal.deferred(message.id(), d.attempts(), d.nextAttemptMillis(), d.pending());
            owned.state(id, QueueState.DEFERRED);
            owned.reschedule(id, d.nextAttemptMillis());
        }
    }

    /**
     * The message of an attempt, from this node's disk or a member that holds it; null when
     * the attempt does not go on (it is rescheduled, or finished when its body is gone past
     * the queue lifetime).
     */
    private QueuedMessage storedMessage(String id, QueueMeta state, long now) {
        Optional<QueuedMessage> body = bodies.find(id, state.holders());
        if (body.isPresent()) {
            return body.get();
        }
        if (now - state.arrivalMillis() < MESSAGE_WAIT_MILLIS && state.attempts() == 0) {
            owned.reschedule(id, now + 200); // defensive: an index entry seen before its body's copy landed
            return null;
        } else if (now - state.arrivalMillis() < settings.maximalQueueLifetime().toMillis()) {
            // No member that holds the body answers now (its holders are down). Never drop the
            // index entry on this alone: a holder that comes back replays its disk.
            LOG.warn("{}: no member holding its body answers (holders {}); trying again later", id, state.holders());
            reconciler.suspect(now);
            owned.reschedule(id, now + settings.minimalBackoff().toMillis());
            return null;
        } else {
            LOG.error("{}: message body missing past maximal_queue_lifetime; removing its delivery "
                    + "state (recipients {})", id, state.pending());
            finish(new QueueId(id), state);
            return null;
        }
    }

    /**
     * Writes the state after an attempt by compare-and-set on the state the attempt read,
     * keeping an operator's hold set meanwhile. False (and untracked) when an operator
     * deleted the message meanwhile: it is not written back.
     */
    private boolean writeBack(String id, byte[] read, QueueMeta next) {
        byte[] seen = read;
        for (int i = 0; i < 20; i++) {
            // an operator's hold and the holders re-replication wrote meanwhile are kept
            QueueMeta now = BinaryCodec.decodeMeta(seen);
            if (maps.meta().replace(id, seen, BinaryCodec.encodeMeta(now.carrying(next).withHeld(now.held())))) {
                return true;
            }
            seen = maps.meta().get(id);
            if (seen == null) {
                LOG.info("{}: deleted by an operator during its delivery attempt", id);
                owned.untrack(id);
                return false;
            }
        }
        throw new IllegalStateException("delivery state kept changing under the worker");
    }

    private void finish(QueueId id, QueueMeta state) {
        // The tombstone first: the spool that accepted the message drops it only on seeing one.
        // When that spool is this node's, its own DONE record says so and no tombstone is needed
        // (the usual case: ids fall in partitions of the accepting member, see newId).
        // A restored entry leaves one too: other members' copies may still be replayed (a restart of
        // the whole cluster), and a replay puts back only what no tombstone says is finished.
        if (!journal.owes(id) || state.restored()) {
            maps.done().setAsync(id.value(), System.currentTimeMillis(), ClusterQueue.TOMBSTONE_MINUTES,
                    TimeUnit.MINUTES);
        }
        // Untracked before the removal, so its REMOVED event is filtered out (see StoreWatch).
        owned.untrack(id.value());
        // Not waited for: the index entry, then the bodies (DONE here, release notices to the other
        // holders). A crash before the removal's backup landed costs at most a second delivery
        // (the promise is at least once).
        maps.meta().deleteAsync(id.value());
        bodies.release(id.value(), state.holders());
        events.removed(id);
    }
}
