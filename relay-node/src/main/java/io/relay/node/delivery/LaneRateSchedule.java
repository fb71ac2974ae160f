package io.relay.node.delivery;

import io.relay.queue.Gcra;
import io.relay.routing.RateLimit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The rate state of one lane on this node: one GCRA (generic cell rate algorithm) per rate,
 * kept as its theoretical arrival time, with the arithmetic of the queue's {@link Gcra}
 * (the one the cluster's limits use): send rates spaced by period/N with no burst, so no
 * window of one period ever holds more than N — what a 1/s sandbox or a 14/s account needs;
 * quotas (an hour or more) counting recipients with a burst of the whole quota. Pure: the
 * caller passes the time, so it is tested with a fake clock. Send slots here are exact
 * (no margin, unlike the cluster's).
 *
 * <p>A delivery reserves the earliest instant at which every rate allows it and is counted
 * at that instant; the caller waits until then (and asks only once its session is set up,
 * right before MAIL FROM). Reserving (instead of polling) keeps waiting workers in arrival
 * order and never charges one rate while another still refuses.
 */
final class LaneRateSchedule {
    /** Theoretical arrival time per rate (by its text), in the caller's nanosecond time base. */
    private final Map<String, Long> tat = new HashMap<>();

    /** What {@link #reserve} found: the start instant, or the refusal with the longest-waiting rate. */
    record Reservation(boolean granted, long startNanos, RateLimit limitedBy) { }

    static boolean isQuota(RateLimit rate) {
        return Gcra.quota(rate.period().toNanos());
    }

    /**
     * Reserves a slot for one delivery of {@code recipients} recipients, at {@code now} or
     * later; refuses (and changes nothing) when the slot is more than {@code maxWaitNanos} away.
     */
    synchronized Reservation reserve(List<RateLimit> rates, int recipients, long now, long maxWaitNanos) {
        long start = now;
        RateLimit slowest = null;
        for (RateLimit r : rates) {
            long earliest = earliest(r, cost(r, recipients), now);
            if (earliest > start) {
                start = earliest;
                slowest = r;
            }
        }
        if (start - now > maxWaitNanos) {
            return new Reservation(false, start, slowest);
        }
        for (RateLimit r : rates) {
            tat.put(r.text(), Gcra.charged(tat.get(r.text()), start, cost(r, recipients), interval(r)));
        }
        return new Reservation(true, start, slowest);
    }

    /** The first instant at which {@code rate} admits {@code cost} more units. */
    private long earliest(RateLimit rate, long cost, long now) {
        Long t = tat.get(rate.text());
        return t == null ? now : Gcra.earliest(t, isQuota(rate), rate.permits(), cost, interval(rate), now);
    }

    private static long cost(RateLimit rate, int recipients) {
        return Gcra.cost(isQuota(rate), rate.permits(), recipients);
    }

    static long interval(RateLimit rate) {
        return Gcra.interval(rate.period().toNanos(), rate.permits());
    }
}
