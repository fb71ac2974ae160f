package io.relay.queue;

/**
 * The arithmetic of the limits' rates, one GCRA (generic cell rate algorithm) per rate kept
 * as its theoretical arrival time (TAT), shared by the cluster's limits ({@link ClusterLimits})
 * and a lone node's (relay-node's {@code LaneRateSchedule}). Pure and static: callers keep
 * the TATs and pass the time; nothing here allocates, as it runs once per delivery.
 *
 * <p>Two kinds of rate, told apart by the period. Periods under an hour are send rates
 * (Postfix's smtp_destination_rate_delay, SES's maximum send rate): each delivery counts one
 * and deliveries are spaced by period/N with no burst, so no window of one period ever holds
 * more than N. Periods of an hour or more are quotas (SES's 50000/d): they count recipients,
 * as SES does, and allow a burst up to the whole quota, because spacing a daily quota evenly
 * would throttle the lane to under 1/s. A delivery with more recipients than a whole quota
 * is charged the whole quota, so it still goes out after a full period rather than never.
 */
public final class Gcra {
    /** A period of this length or longer makes a rate a recipient quota. */
    public static final long QUOTA_PERIOD_NANOS = 3_600_000_000_000L;
    /** Send-rate spacing margin: 1/20 = 5%, at most 30 ms. */
    static final long SEND_MARGIN_DIVISOR = 20;
    static final long MAX_SEND_MARGIN_NANOS = 30_000_000L;

    private Gcra() {
    }

    /** Whether a rate of {@code periodNanos} is a recipient quota (an hour or more) rather than a send rate. */
    public static boolean quota(long periodNanos) {
        return periodNanos >= QUOTA_PERIOD_NANOS;
    }

    /** Nanoseconds one unit occupies, exactly: period / permits. */
    public static long interval(long periodNanos, long permits) {
        return periodNanos / permits;
    }

    /**
     * Nanoseconds one unit occupies with room for the next hop's counting. Send slots are 5%
     * wider than the rate (at most 30 ms wider): a next hop counts arrivals, which network,
     * TLS and its own scheduling move by tens of milliseconds, and that much room keeps its
     * busiest window at the rate (14/s: 75 ms apart, 14 span 975 ms of a second; 1/s:
     * 1030 ms) instead of one message over. Quotas count recipients and get none.
     */
    public static long spacedInterval(long periodNanos, long permits) {
        long exact = interval(periodNanos, permits);
        return quota(periodNanos) ? exact : exact + Math.min(exact / SEND_MARGIN_DIVISOR, MAX_SEND_MARGIN_NANOS);
    }

    /** The units one delivery of {@code recipients} costs: 1 for a send rate; recipients, at most the whole quota, for a quota. */
    public static long cost(boolean quota, long permits, int recipients) {
        return quota ? Math.min(Math.max(1, recipients), permits) : 1;
    }

    /**
     * The first instant at which a rate whose TAT is {@code tat} admits {@code cost} more
     * units, and not before {@code now}: TAT + (cost - burst) * T, where the burst is the
     * whole quota for a quota and 1 (none) for a send rate.
     */
    public static long earliest(long tat, boolean quota, long permits, long cost, long interval, long now) {
        long burst = quota ? permits : 1;
        return Math.max(now, tat + (cost - burst) * interval);
    }

    /** The TAT after charging {@code units} from {@code start} on ({@code tat} null: the rate's first use). */
    public static long charged(Long tat, long start, long units, long interval) {
        return (tat == null ? start : Math.max(tat, start)) + units * interval;
    }
}
