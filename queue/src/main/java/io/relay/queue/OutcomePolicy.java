package io.relay.queue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongUnaryOperator;

/**
 * What one delivery attempt's per-recipient results mean for the message, as Postfix's
 * qmgr decides it: every recipient delivered or failed → finished; past
 * {@code maximal_queue_lifetime} with recipients still owed → expired; only postponed by
 * the next hop's limits (busy lane, send rate, quota) → tried again at the earliest slot
 * without counting an attempt or backing off; else deferred with backoff
 * ({@code minimal_backoff_time} doubled per attempt, capped at {@code maximal_backoff_time},
 * plus up to 10% jitter), never later than a postponed recipient's slot.
 *
 * <p>A pure function: no store, no spool, no clock of its own. The caller passes the time
 * the attempt ended and the jitter, and applies the {@link Decision} (the worker in
 * {@link Attempts}).
 */
final class OutcomePolicy {
    /** A postponement at least this long is written to the store (shown as deferred, with its reason). */
    static final long SHOWN_POSTPONEMENT_MILLIS = 60_000;

    /** Production jitter: a uniform value in [0, bound). */
    static final LongUnaryOperator RANDOM_JITTER =
            bound -> java.util.concurrent.ThreadLocalRandom.current().nextLong(bound);

    private final QueueSettings settings;

    OutcomePolicy(QueueSettings settings) {
        this.settings = settings;
    }

    /** What the queue does with the message after an attempt. */
    sealed interface Decision {
    }

    /** Every recipient delivered or failed (the handler has sent any DSN): the message leaves the queue. */
    record Finished() implements Decision {
    }

    /** Past the queue lifetime: these recipients expire ({@link DeliveryHandler#expired}), then the message leaves. */
    record Expired(List<RecipientOutcome.Deferred> lastOutcomes) implements Decision {
        Expired {
            lastOutcomes = List.copyOf(lastOutcomes);
        }
    }

    /**
     * Only postponed: tried again at {@code nextAttemptMillis}, no attempt counted.
     * {@code rewrite}: the stored state changes (recipients were done, or a long
     * postponement is shown with its {@code reason}); otherwise nothing is written.
     */
    record Postponed(List<String> pending, long nextAttemptMillis, String reason, boolean rewrite)
            implements Decision {
        Postponed {
            pending = List.copyOf(pending);
        }

        /** The state written when {@link #rewrite}; {@code nextHops} of the still pending recipients. */
        QueueMeta written(QueueMeta before, List<String> nextHops) {
            return before.carrying(new QueueMeta(pending, before.attempts(), nextAttemptMillis,
                    before.arrivalMillis(), reason, before.size(), false, nextHops));
        }
    }

    /** Deferred: attempt {@code attempts} counted, due again at {@code nextAttemptMillis}. */
    record Deferred(List<String> pending, int attempts, long nextAttemptMillis, String reason) implements Decision {
        Deferred {
            pending = List.copyOf(pending);
        }

        QueueMeta written(QueueMeta before, List<String> nextHops) {
            return before.carrying(new QueueMeta(pending, attempts, nextAttemptMillis, before.arrivalMillis(),
                    reason, before.size(), false, nextHops));
        }
    }

    /**
     * The decision for {@code state} after an attempt that ended at {@code nowMillis} with
     * these outcomes (the first per recipient counts; a pending recipient without one is
     * deferred). {@code jitter} maps a bound to a value in [0, bound).
     */
    Decision decide(QueueMeta state, List<RecipientOutcome> outcomes, long nowMillis, LongUnaryOperator jitter) {
        Map<String, RecipientOutcome> byRecipient = new HashMap<>();
        outcomes.forEach(o -> byRecipient.putIfAbsent(o.recipient(), o));
        List<String> stillPending = new ArrayList<>();
        List<RecipientOutcome.Deferred> deferred = new ArrayList<>();
        List<RecipientOutcome.Deferred> postponedAsDeferred = new ArrayList<>();
        long postponedUntil = Long.MAX_VALUE;
        for (String recipient : state.pending()) {
            RecipientOutcome o = byRecipient.get(recipient);
            if (o == null) {
                o = new RecipientOutcome.Deferred(recipient, "delivery handler gave no outcome");
            }
            if (o instanceof RecipientOutcome.Deferred d) {
                stillPending.add(recipient);
                deferred.add(d);
            } else if (o instanceof RecipientOutcome.Postponed p) {
                stillPending.add(recipient);
                postponedUntil = Math.min(postponedUntil, p.notBeforeMillis());
                postponedAsDeferred.add(new RecipientOutcome.Deferred(recipient, p.reason()));
            }
        }
        if (stillPending.isEmpty()) {
            return new Finished();
        }
        if (nowMillis - state.arrivalMillis() >= settings.maximalQueueLifetime().toMillis()) {
            List<RecipientOutcome.Deferred> last = new ArrayList<>(deferred);
            last.addAll(postponedAsDeferred);
            return new Expired(last);
        }
        if (deferred.isEmpty()) {
            long next = Math.max(postponedUntil, nowMillis);
            // A long hold (a quota's next slot, hours away) goes into the store with its reason:
            // the operator's view shows it held back and why, and a retry, which moves the stored
            // next attempt earlier, reaches it. Short holds (busy lane, send rate) stay local, so a
            // throttled lane costs no write per message per slot.
            boolean shown = next - nowMillis >= SHOWN_POSTPONEMENT_MILLIS;
            String reason = shown ? postponedAsDeferred.get(0).reason() : state.lastReason();
            boolean rewrite = stillPending.size() != state.pending().size()
                    || (shown && (next != state.nextAttemptMillis() || !Objects.equals(reason, state.lastReason())));
            return new Postponed(stillPending, next, reason == null ? "" : reason, rewrite);
        }
        int attemptNo = state.attempts() + 1;
        long delay = settings.backoffMillis(attemptNo);
        long next = nowMillis + delay + jitter.applyAsLong(delay / 10 + 1);
        next = Math.min(next, Math.max(postponedUntil, nowMillis));
        String reason = deferred.get(0).reason() == null ? "" : deferred.get(0).reason();
        return new Deferred(stillPending, attemptNo, next, reason);
    }

    /** A handler that threw (or gave nothing) defers every pending recipient with its reason. */
    static List<RecipientOutcome> allDeferred(List<String> pending, String reason) {
        return pending.stream().<RecipientOutcome>map(r -> new RecipientOutcome.Deferred(r, reason)).toList();
    }
}
