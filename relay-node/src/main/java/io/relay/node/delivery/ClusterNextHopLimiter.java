package io.relay.node.delivery;

import io.relay.queue.ClusterLimits;
import io.relay.routing.RateLimit;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The lane limits of the whole cluster ({@link ClusterLimits}) with as few round trips as
 * the limits allow.
 *
 * <p>Connections: a node holds cluster leases for a lane and hands them to its own
 * deliveries without asking again; a lease that stayed unused for {@value #LINGER_MILLIS} ms
 * goes back, and so does one held for {@value #MAX_HOLD_MILLIS} ms (rotation, so members
 * that are waiting get their turn — the limits store serves waiting members first).
 * Before a lease goes back, the node closes its idle cached connections of the lane, so
 * the next hop never sees more connections than the cluster-wide limit. When no lease is
 * free, one delivery per lane asks again, after {@value #POLL_MILLIS} ms doubling up to
 * {@value #MAX_POLL_MILLIS} ms, until the longest wait; the others wait for it locally.
 *
 * <p>Rates: one reservation per delivery; at high send rates one reservation covers a
 * batch of consecutive slots (a tenth of a second's worth, at most {@value #MAX_BATCH}),
 * which this node hands out locally. Slots are wall-clock instants; a slot this node would
 * use later than {@link #lateTolerance} (a slow answer, an overslept thread) is dropped and
 * the next one taken, so no slot is used where it would crowd its successor.
 */
public final class ClusterNextHopLimiter implements NextHopLimiter, AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ClusterNextHopLimiter.class);
    static final long LINGER_MILLIS = 1000;
    static final long MAX_HOLD_MILLIS = 5000;
    static final long POLL_MILLIS = 100;
    static final long MAX_POLL_MILLIS = 800;
    static final int MAX_BATCH = 50;

    private final ClusterLimits limits;
    private final long maxWaitNanos;
    private final Map<String, Leases> leases = new ConcurrentHashMap<>();
    private final Map<String, Deque<Long>> slots = new ConcurrentHashMap<>();
    private final ScheduledExecutorService housekeeping;
    private final java.util.concurrent.atomic.AtomicLong lateSlots = new java.util.concurrent.atomic.AtomicLong();
    /** Moving average of a reservation's answer time (not synchronised: a rough estimate is enough). */
    private volatile long answerNanos = 1_000_000L;
    private volatile Consumer<String> beforeRelease = lane -> { };

    private static final class Leases {
        int held;
        int inUse;
        boolean asking;
        long nextAskNanos;
        long pauseMillis;
        long lastUsedNanos = System.nanoTime();
        final Deque<Long> grantedNanos = new ArrayDeque<>();
    }

    /** @param maxWait the longest a delivery waits for a lease or a rate slot */
    public ClusterNextHopLimiter(ClusterLimits limits, Duration maxWait) {
        this.limits = limits;
        this.maxWaitNanos = maxWait.toNanos();
        this.housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "limits-housekeeping");
            t.setDaemon(true);
            return t;
        });
        housekeeping.scheduleWithFixedDelay(this::releaseIdle, 200, 200, TimeUnit.MILLISECONDS);
    }

    /**
     * Called with the lane key before this node gives a lease back (close idle connections there).
     * A setter: the dispatcher that closes them is built with this limiter, so it comes after it.
     */
    public void beforeRelease(Consumer<String> action) {
        this.beforeRelease = action;
    }

    @Override
    public Optional<ConnectionPermit> acquireConnection(String laneKey, int limit) throws InterruptedException {
        if (limit < 1) {
            throw new IllegalArgumentException("concurrency limit " + limit + " for " + laneKey + " must be at least 1");
        }
        Leases l = leases.computeIfAbsent(laneKey, k -> new Leases());
        long deadline = System.nanoTime() + maxWaitNanos;
        while (true) {
            synchronized (l) {
                while (true) {
                    if (l.inUse < l.held && l.inUse < limit) {
                        l.inUse++;
                        return Optional.of(permit(laneKey, l, limit));
                    }
                    long now = System.nanoTime();
                    if (!l.asking && now >= l.nextAskNanos) {
                        l.asking = true;
                        break;
                    }
                    // One delivery per lane asks the cluster, and not before the lane's next
                    // ask time; the others wait for it or for a local release.
                    long left = deadline - now;
                    if (left <= 0) {
                        return Optional.empty();
                    }
                    long untilAsk = l.asking ? MAX_POLL_MILLIS : TimeUnit.NANOSECONDS.toMillis(l.nextAskNanos - now);
                    l.wait(Math.max(1, Math.min(untilAsk, TimeUnit.NANOSECONDS.toMillis(left))));
                }
            }
            boolean granted = false;
            try {
                granted = limits.tryLease(laneKey, limit);
            } finally {
                synchronized (l) {
                    l.asking = false;
                    if (granted) {
                        l.held++;
                        l.grantedNanos.addLast(System.nanoTime());
                        l.pauseMillis = 0;
                    } else {
                        // Refused: the lane asks again later, less often the longer it takes.
                        l.pauseMillis = l.pauseMillis == 0 ? POLL_MILLIS : Math.min(MAX_POLL_MILLIS, l.pauseMillis * 2);
                        l.nextAskNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(l.pauseMillis);
                    }
                    l.notifyAll();
                }
            }
        }
    }

    private ConnectionPermit permit(String lane, Leases l, int limit) {
        AtomicBoolean closed = new AtomicBoolean();
        return () -> {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            int giveBack = 0;
            synchronized (l) {
                l.inUse--;
                long now = System.nanoTime();
                l.lastUsedNanos = now;
                Long oldest = l.grantedNanos.peekFirst();
                boolean rotate = oldest != null && now - oldest > TimeUnit.MILLISECONDS.toNanos(MAX_HOLD_MILLIS);
                int spare = l.held - l.inUse;
                if (spare > 0 && (rotate || l.held > limit)) {
                    giveBack = 1;
                    l.held--;
                    l.grantedNanos.pollFirst();
                }
                l.notifyAll();
            }
            if (giveBack > 0) {
                release(lane, giveBack);
            }
        };
    }

    private void release(String lane, int count) {
        try {
            beforeRelease.accept(lane);
        } finally {
            limits.release(lane, count);
        }
    }

    /** Gives back leases that no delivery of this node used for the linger time. */
    private void releaseIdle() {
        long now = System.nanoTime();
        for (Map.Entry<String, Leases> e : leases.entrySet()) {
            Leases l = e.getValue();
            int spare;
            synchronized (l) {
                spare = l.held - l.inUse;
                if (spare <= 0 || now - l.lastUsedNanos < TimeUnit.MILLISECONDS.toNanos(LINGER_MILLIS)) {
                    continue;
                }
                l.held -= spare;
                for (int i = 0; i < spare; i++) {
                    l.grantedNanos.pollFirst();
                }
            }
            try {
                release(e.getKey(), spare);
            } catch (RuntimeException ex) {
                // the member-loss cleanup frees them if this member goes away
            }
        }
    }

    @Override
    public RateDecision awaitRate(String laneKey, List<RateLimit> rates, int recipients) throws InterruptedException {
        if (rates.isEmpty()) {
            return new RateDecision.Proceed(Duration.ZERO);
        }
        long asked = System.nanoTime();
        boolean quota = rates.stream().anyMatch(LaneRateSchedule::isQuota);
        Deque<Long> local = slots.computeIfAbsent(laneKey, k -> new ArrayDeque<>());
        long spacing = spacingNanos(rates);
        long tolerance = lateTolerance(spacing);
        for (int tries = 0; ; tries++) {
            Long slot = null;
            if (!quota) {
                long wall = ClusterLimits.wallNanos();
                synchronized (local) {
                    while (!local.isEmpty() && local.peekFirst() < wall - tolerance) {
                        local.pollFirst();
                    }
                    slot = local.pollFirst();
                }
            }
            if (slot == null) {
                int batch = quota ? 1 : batchFor(spacing);
                List<ClusterLimits.Rate> cluster = rates.stream()
                        .map(r -> new ClusterLimits.Rate(r.permits(), r.period().toNanos(), r.text())).toList();
                long sent = System.nanoTime();
                ClusterLimits.Reservation r = limits.reserve(laneKey, cluster, recipients, batch, maxWaitNanos,
                        quota && spacing == 0 ? 0 : lead());
                observeAnswer(System.nanoTime() - sent);
                if (!r.granted()) {
                    RateLimit by = rates.stream().filter(x -> x.text().equals(r.limitedBy())).findFirst()
                            .orElse(rates.get(0));
                    return new RateDecision.Refused(by, Duration.ofNanos(r.waitNanos()));
                }
                slot = r.startWallNanos();
                if (r.slots() > 1) {
                    synchronized (local) {
                        for (int i = 1; i < r.slots(); i++) {
                            local.addLast(slot + i * r.spacing());
                        }
                    }
                }
            }
            long late = sleepUntilWall(slot);
            // A slot used late would crowd the next one (a slow answer, an overslept thread):
            // drop it and take the next; the third is used however late (the next one would
            // come as late: the node is overloaded, and holding mail back helps nobody).
            if (late <= tolerance || tries >= 2) {
                return new RateDecision.Proceed(Duration.ofNanos(System.nanoTime() - asked));
            }
            lateSlots.incrementAndGet();
        }
    }

    /**
     * How far ahead a send slot is asked for: twice the recent answer time (at least 1 ms,
     * at most 200 ms), so the slot is still ahead when the answer arrives and is kept on
     * time instead of late by the answer's travel.
     */
    private long lead() {
        return Math.max(1_000_000L, Math.min(200_000_000L, 2 * answerNanos));
    }

    private void observeAnswer(long nanos) {
        answerNanos = (answerNanos * 7 + nanos) / 8;
    }

    /**
     * How late a send-rate slot may still be used: a fifth of the spacing, between 10 and
     * 15 ms. Late by L, a slot lets a window of the rate's period P hold about L/P more than
     * the rate; the limits store's spacing margin (5%, at most 30 ms per slot) leaves room
     * for that and for the next hop's own jitter.
     */
    static long lateTolerance(long spacingNanos) {
        return spacingNanos <= 0 ? Long.MAX_VALUE : Math.max(10_000_000L, Math.min(15_000_000L, spacingNanos / 5));
    }

    /** Sleeps until the wall clock reaches {@code wallNanos}; returns how late it woke (0 if the slot was past). */
    private static long sleepUntilWall(long wallNanos) throws InterruptedException {
        long left = wallNanos - ClusterLimits.wallNanos();
        if (left <= 0) {
            return -left;
        }
        long until = System.nanoTime() + left;
        while ((left = until - System.nanoTime()) > 0) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
        return Math.max(0, ClusterLimits.wallNanos() - wallNanos);
    }

    /** Send-rate slots dropped because they would have been used too late (for the closing figures). */
    public long lateSlots() {
        return lateSlots.get();
    }

    private static long spacingNanos(List<RateLimit> rates) {
        long spacing = 0;
        for (RateLimit r : rates) {
            if (!LaneRateSchedule.isQuota(r)) {
                spacing = Math.max(spacing, LaneRateSchedule.interval(r));
            }
        }
        return spacing;
    }

    /** A tenth of a second's worth of slots at the tightest send rate, 1 below 20/s. */
    static int batchFor(long spacingNanos) {
        if (spacingNanos <= 0) {
            return 1;
        }
        long perTenth = TimeUnit.MILLISECONDS.toNanos(100) / spacingNanos;
        return (int) Math.max(1, Math.min(MAX_BATCH, perTenth));
    }

    /** Cluster round trips made for limits so far (for the closing figures and metrics). */
    public long roundTrips() {
        return limits.roundTrips();
    }

    @Override
    public void close() {
        housekeeping.shutdownNow();
        LOG.info("lane limits: {} cluster round trips on this node ({}), {} late send slots dropped",
                limits.roundTrips(), limits.roundTripBreakdown(), lateSlots.get());
        for (Map.Entry<String, Leases> e : leases.entrySet()) {
            int held;
            synchronized (e.getValue()) {
                held = e.getValue().held;
                e.getValue().held = 0;
            }
            if (held > 0) {
                try {
                    release(e.getKey(), held);
                } catch (RuntimeException ignored) {
                    // leaving the cluster frees them anyway
                }
            }
        }
    }
}
