package io.relay.node.delivery;

import io.relay.routing.RateLimit;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * Per-node limits for each lane (transport + next hop): at most {@code limit} deliveries —
 * and so connections — at once, and the lane's rates ({@code 1/s}, {@code 14/s},
 * {@code 50000/d}, several at once; see {@link LaneRateSchedule} for how each counts).
 *
 * <p>Strategy: a fair semaphore per (lane, limit) held for the whole delivery. Because a
 * delivery holds its slot while it uses a connection, and the SMTP client only opens a new
 * connection when no idle one of that next hop is cached, the idle cache of a lane never
 * grows past the limit either (in use + idle ≤ limit). Rates are reserved per lane and the
 * caller's worker thread sleeps until its slot (the Dispatcher asks right before MAIL FROM,
 * and caps how many of its workers one lane may hold). Waits are capped by {@code maxWait};
 * beyond it the caller postpones the delivery. The node runs {@link ClusterNextHopLimiter};
 * this one is the same contract for a single process, used by tests.
 *
 * <p>Settings: each route's {@code concurrency} and {@code rate} (smtp.transports.NAME.*,
 * or smtp.destination-concurrency-limit / smtp.destination-rate for the default), and
 * {@code maxWait}, the longest a delivery waits for a slot or a rate (e.g. 30 s).
 */
public final class LocalNextHopLimiter implements NextHopLimiter {
    /** Sleeps until an instant of the limiter's time base; a test passes one that advances a fake clock. */
    @FunctionalInterface
    public interface Sleeper {
        void sleepUntil(long nanos) throws InterruptedException;
    }

    private final long maxWaitNanos;
    private final LongSupplier nanoTime;
    private final Sleeper sleeper;
    private final ConcurrentMap<String, Semaphore> connections = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, LaneRateSchedule> rates = new ConcurrentHashMap<>();

    /** The node's limiter: real time, real sleeps. */
    public LocalNextHopLimiter(Duration maxWait) {
        this(maxWait, System::nanoTime, until -> {
            long left;
            while ((left = until - System.nanoTime()) > 0) {
                TimeUnit.NANOSECONDS.sleep(left);
            }
        });
    }

    /** For tests: a time base in nanoseconds and a sleeper that follows it. */
    public LocalNextHopLimiter(Duration maxWait, LongSupplier nanoTime, Sleeper sleeper) {
        this.maxWaitNanos = maxWait.toNanos();
        this.nanoTime = nanoTime;
        this.sleeper = sleeper;
    }

    @Override
    public Optional<ConnectionPermit> acquireConnection(String laneKey, int limit) throws InterruptedException {
        if (limit < 1) {
            throw new IllegalArgumentException("concurrency limit " + limit + " for " + laneKey + " must be at least 1");
        }
        // Keyed with the limit, so a changed limit takes effect for new deliveries at once.
        Semaphore slots = connections.computeIfAbsent(laneKey + "#" + limit, k -> new Semaphore(limit, true));
        if (!slots.tryAcquire(maxWaitNanos, TimeUnit.NANOSECONDS)) {
            return Optional.empty();
        }
        AtomicBoolean released = new AtomicBoolean();
        return Optional.of(() -> {
            if (released.compareAndSet(false, true)) {
                slots.release();
            }
        });
    }

    @Override
    public RateDecision awaitRate(String laneKey, List<RateLimit> limits, int recipients) throws InterruptedException {
        if (limits.isEmpty()) {
            return new RateDecision.Proceed(Duration.ZERO);
        }
        long now = nanoTime.getAsLong();
        LaneRateSchedule.Reservation r = rates.computeIfAbsent(laneKey, k -> new LaneRateSchedule())
                .reserve(limits, recipients, now, maxWaitNanos);
        if (!r.granted()) {
            return new RateDecision.Refused(r.limitedBy(), Duration.ofNanos(r.startNanos() - now));
        }
        if (r.startNanos() > now) {
            sleeper.sleepUntil(r.startNanos());
        }
        return new RateDecision.Proceed(Duration.ofNanos(r.startNanos() - now));
    }

    /** Connection slots in use on a lane with this limit (for tests and metrics). */
    public int connectionsInUse(String laneKey, int limit) {
        Semaphore s = connections.get(laneKey + "#" + limit);
        return s == null ? 0 : limit - s.availablePermits();
    }
}
