package io.relay.node.cluster;

import io.relay.node.auth.SaslUser;
import io.relay.node.auth.SenderRates;
import io.relay.queue.ClusterLimits;
import io.relay.queue.Gcra;
import io.relay.routing.RateLimit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A SASL user's own rates ({@link SaslUser#rates()}: messages per second, minute, hour or
 * day) counted for the whole cluster by the limiter of the destinations, {@link ClusterLimits},
 * on a lane of its own, {@code sasl-user:NAME} (a next hop's lane names a transport and a
 * host, so they cannot meet). A user without rates is never limited and costs no cluster call.
 *
 * <p>Strategy: one reservation per message, never waiting. The limiter spaces send rates
 * (below an hour) one slot per interval; a user's rate is a count per period, so the
 * reservation may lie up to {@code (N - 1)} intervals ahead (the slot width as the limiter computes it),
 * which lets {@code N} messages through at once and then one per interval, as a token bucket
 * of N would. With several send rates the tightest one's allowance is used, so none is
 * exceeded (a looser one may admit a little less). Rates of an hour or more are the
 * limiter's quotas, already counted with their full allowance; with a send rate beside
 * them a quota may let that allowance's few messages more through. One round trip per
 * message. A cluster failure is logged once and the message let through: a broken limiter
 * must not stop every authenticated client.
 */
public final class ClusterSenderRates implements SenderRates {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterSenderRates.class);
    private static final String LANE = "sasl-user:";

    /** Room for rounding only: the N-th message's slot lies exactly N - 1 intervals ahead at most. */
    private static final long SLACK_NANOS = 1_000_000L;

    private final ClusterLimits limits;
    private final AtomicBoolean failing = new AtomicBoolean();

    public ClusterSenderRates(ClusterLimits limits) {
        this.limits = limits;
    }

    @Override
    public boolean tryAcquire(SaslUser user) {
        if (user.rates().isEmpty()) {
            return true;
        }
        List<ClusterLimits.Rate> rates = new ArrayList<>();
        long allowance = Long.MAX_VALUE;
        for (String text : user.rates()) {
            RateLimit r;
            try {
                r = RateLimit.parse(text);
            } catch (IllegalArgumentException e) {
                continue; // checked when set; a rate the limiter cannot read limits nothing
            }
            long period = r.period().toNanos();
            rates.add(new ClusterLimits.Rate(r.permits(), period, r.text()));
            if (!Gcra.quota(period)) {
                allowance = Math.min(allowance, allowanceNanos(r.permits(), period));
            }
        }
        if (rates.isEmpty()) {
            return true;
        }
        try {
            ClusterLimits.Reservation granted = limits.reserve(LANE + user.name(), rates, 1, 1,
                    allowance == Long.MAX_VALUE ? 0 : allowance);
            if (failing.compareAndSet(true, false)) {
                LOG.info("SASL user rates are counted again");
            }
            return granted.granted();
        } catch (RuntimeException e) {
            if (failing.compareAndSet(false, true)) {
                LOG.warn("SASL user rate check failed, users are not limited until the cluster answers again: {}",
                        e.toString());
            }
            return true;
        }
    }

    /** How far ahead a reservation may lie for {@code permits} per {@code periodNanos} to admit {@code permits} at once. */
    static long allowanceNanos(long permits, long periodNanos) {
        return (permits - 1) * Gcra.spacedInterval(periodNanos, permits) + SLACK_NANOS;
    }
}
