package io.relay.node.delivery;

import io.relay.routing.RateLimit;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The rate state of one lane: one GCRA (generic cell rate algorithm) per rate, kept as its
 * theoretical arrival time. Pure: the caller passes the time, so it is tested with a fake clock.
 *
 * <p>Two kinds of rate, told apart by the period. Periods under an hour are send rates
 * (Postfix's smtp_destination_rate_delay, SES's maximum send rate): each delivery counts one
 * and deliveries are spaced by period/N with no burst, so no window of one period ever holds
 * more than N — what a 1/s sandbox or a 14/s account needs. Periods of an hour or more are
 * quotas (SES's 50000/d): they count recipients, as SES does, and allow a burst up to the
 * whole quota, because spacing a daily quota evenly would throttle the lane to under 1/s.
 * A delivery with more recipients than a whole quota is charged the whole quota, so it
 * still goes out after a full period rather than never.
 *
 * <p>A delivery reserves the earliest instant at which every rate allows it and is counted
 * at that instant; the caller waits until then (and asks only once its session is set up,
 * right before MAIL FROM). Reserving (instead of polling) keeps waiting workers in arrival
 * order and never charges one rate while another still refuses.
 */
final class LaneRateSchedule {
    private static final Duration QUOTA_PERIOD = Duration.ofHours(1);

    /** Theoretical arrival time per rate (by its text), in the caller's nanosecond time base. */
    private final Map<String, Long> tat = new HashMap<>();

    /** What {@link #reserve} found: the start instant, or the refusal with the longest-waiting rate. */
    record Reservation(boolean granted, long startNanos, RateLimit limitedBy) { }

    static boolean isQuota(RateLimit rate) {
        return rate.period().compareTo(QUOTA_PERIOD) >= 0;
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
            long interval = interval(r);
            long from = Math.max(tat.getOrDefault(r.text(), Long.MIN_VALUE), start);
            tat.put(r.text(), from + cost(r, recipients) * interval);
        }
        return new Reservation(true, start, slowest);
    }

    /** The first instant at which {@code rate} admits {@code cost} more units: TAT + (cost - burst) * T. */
    private long earliest(RateLimit rate, long cost, long now) {
        Long t = tat.get(rate.text());
        if (t == null) {
            return now;
        }
        long burst = isQuota(rate) ? rate.permits() : 1;
        return Math.max(now, t + (cost - burst) * interval(rate));
    }

    private static long cost(RateLimit rate, int recipients) {
        return isQuota(rate) ? Math.min(Math.max(1, recipients), rate.permits()) : 1;
    }

    private static long interval(RateLimit rate) {
        return rate.period().toNanos() / rate.permits();
    }
}
