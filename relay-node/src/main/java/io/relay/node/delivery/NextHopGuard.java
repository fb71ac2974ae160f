package io.relay.node.delivery;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.core.IntervalFunction;
import io.relay.node.metrics.BreakerState;
import io.relay.routing.NextHop;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the node reacts to its upstreams, one instance per node: a circuit breaker per next
 * hop, connection retries with jitter, and a throttling pause per lane.
 *
 * <p>Breaker (Resilience4j, keyed by {@link NextHop#text()}): only connection-level failures
 * ({@link SmtpDelivery#connectionFailure()}) count against it, any established session counts
 * for it. A count-based window of {@code failure-threshold} calls that all failed opens it —
 * {@code failure-threshold} connection failures in a row. While open, deliveries to the hop
 * are deferred without connecting, worded as Postfix does for a destination it marked dead
 * ({@code delivery temporarily suspended: <last connection error>}); after {@code open-time}
 * one probe goes through (half-open): a session closes the breaker, a failure reopens it.
 *
 * <p>Retries: a fresh connection that fails at connection level is tried again up to
 * {@code connect-retries} times after 200 ms × 2ⁿ ± 50 % (at most 1 s each), unless the
 * breaker opened meanwhile.
 *
 * <p>Throttling: a 454 at any stage, or a 421 after the greeting (SES: {@code 454 Throttling
 * failure: Maximum sending rate exceeded}), pauses the lane for 1 s, doubling with each
 * further throttling reply up to 60 s; each successful delivery halves the next pause.
 *
 * <p>Settings: {@code smtp.breaker.failure-threshold}, {@code smtp.breaker.open-time},
 * {@code smtp.breaker.connect-retries}.
 */
public final class NextHopGuard {
    private static final Logger LOG = LoggerFactory.getLogger(NextHopGuard.class);
    static final Duration RETRY_BASE = Duration.ofMillis(200);
    static final Duration RETRY_MAX = Duration.ofSeconds(1);
    static final Duration PAUSE_MIN = Duration.ofSeconds(1);
    static final Duration PAUSE_MAX = Duration.ofSeconds(60);

    /**
     * @param failureThreshold connection failures in a row that open a next hop's breaker
     * @param openTime         how long it stays open before one probe is let through
     * @param connectRetries   extra tries of a fresh connection that failed at connection level
     */
    public record Settings(int failureThreshold, Duration openTime, int connectRetries) {
        public static final Settings DEFAULTS = new Settings(5, Duration.ofSeconds(30), 2);

        public Settings {
            if (failureThreshold < 1) {
                throw new IllegalArgumentException("failure-threshold must be at least 1");
            }
            if (openTime.isNegative() || openTime.isZero()) {
                throw new IllegalArgumentException("open-time must be positive");
            }
            if (connectRetries < 0 || connectRetries > 5) {
                throw new IllegalArgumentException("connect-retries must be 0 to 5");
            }
        }
    }

    /** Waits between connection retries; tests pass one that only advances a fake clock. */
    @FunctionalInterface
    public interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    /** Why a next hop is skipped: Postfix's wording and the last connection error's status code. */
    public record Suspension(String dsn, String text) {
    }

    private record LastError(String dsn, String detail) {
    }

    private final class Hop {
        final String name;
        final CircuitBreaker breaker;
        final AtomicInteger failuresInARow = new AtomicInteger();
        volatile LastError lastError = new LastError("4.4.1", "connect to next hop failed");

        Hop(String name) {
            this.name = name;
            this.breaker = CircuitBreaker.of(name, breakerConfig);
            breaker.getEventPublisher().onStateTransition(e -> changed(this, e.getStateTransition()));
        }
    }

    /** The pause of one lane: its current length (0 = none) and until when it holds. */
    private static final class Throttle {
        long pauseMillis;
        long untilMillis;
        int code;
    }

    private final Settings settings;
    private final boolean active;
    private final Clock clock;
    private final Sleeper sleeper;
    private final BiConsumer<String, BreakerState> listener;
    private final CircuitBreakerConfig breakerConfig;
    private final IntervalFunction retryWait;
    private final Map<String, Hop> hops = new ConcurrentHashMap<>();
    private final Map<String, Throttle> throttles = new ConcurrentHashMap<>();

    /**
     * @param listener told of every breaker state change (next hop text, new state), e.g. metrics;
     *                 runs on the delivery thread that caused the change
     */
    public NextHopGuard(Settings settings, Clock clock, Sleeper sleeper, BiConsumer<String, BreakerState> listener) {
        this(settings, true, clock, sleeper, listener);
    }

    private NextHopGuard(Settings settings, boolean active, Clock clock, Sleeper sleeper,
                         BiConsumer<String, BreakerState> listener) {
        this.settings = settings;
        this.active = active;
        this.clock = clock;
        this.sleeper = sleeper;
        this.listener = listener;
        this.breakerConfig = CircuitBreakerConfig.custom()
                .slidingWindow(settings.failureThreshold(), settings.failureThreshold(),
                        CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .failureRateThreshold(100)
                .waitDurationInOpenState(settings.openTime())
                .permittedNumberOfCallsInHalfOpenState(1)
                // Half-open is entered by the next delivery that asks, not by a timer thread.
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .clock(clock)
                .build();
        this.retryWait = IntervalFunction.ofExponentialRandomBackoff(RETRY_BASE, 2.0, 0.5, RETRY_MAX);
    }

    /** The production guard: the system clock, Thread.sleep between retries. */
    public static NextHopGuard of(Settings settings, BiConsumer<String, BreakerState> listener) {
        return new NextHopGuard(settings, Clock.systemUTC(), d -> Thread.sleep(d.toMillis()), listener);
    }

    /** A guard that never trips, never retries and never pauses (the Dispatcher's older constructors). */
    public static NextHopGuard inactive() {
        return new NextHopGuard(Settings.DEFAULTS, false, Clock.systemUTC(), d -> { }, (h, s) -> { });
    }

    // ---- the breaker and the retries ----

    /**
     * Delivers to {@code hop} through its breaker: while the breaker is open, returns every
     * recipient deferred with the suspension text and does not call {@code attempt}; otherwise
     * calls it, retrying connection-level failures, records the outcome and watches the replies
     * for throttling on {@code lane}.
     */
    public SmtpDelivery deliver(String lane, NextHop hop, List<String> rcpts, Supplier<SmtpDelivery> attempt) {
        if (!active) {
            return attempt.get();
        }
        Hop h = hop(hop.text());
        if (!h.breaker.tryAcquirePermission()) {
            Suspension s = suspension(h);
            List<RecipientResult> deferred = new ArrayList<>();
            for (String r : rcpts) {
                deferred.add(RecipientResult.deferred(r, s.dsn(), s.text()));
            }
            return new SmtpDelivery("none", 0, 0, 0, false, deferred);
        }
        SmtpDelivery d;
        for (int tries = 1; ; tries++) {
            try {
                d = attempt.get();
            } catch (RuntimeException e) {
                h.breaker.releasePermission();
                throw e;
            }
            record(h, d);
            if (!d.connectionFailure() || tries > settings.connectRetries()
                    || h.breaker.getState() != CircuitBreaker.State.CLOSED) {
                break; // a half-open probe gets no retry: its failure reopened the breaker
            }
            try {
                sleeper.sleep(Duration.ofMillis(retryWait.apply(tries)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            if (!h.breaker.tryAcquirePermission()) {
                break; // opened meanwhile: this failure stands, later deliveries are suspended
            }
        }
        observeReplies(lane, d);
        return d;
    }

    private void record(Hop h, SmtpDelivery d) {
        if (d.connectionFailure()) {
            RecipientResult first = d.results().isEmpty() ? null : d.results().get(0);
            if (first != null) {
                h.lastError = new LastError(first.dsn(), first.detail());
            }
            h.failuresInARow.incrementAndGet();
            // Duration 0: a slow session is not a failure here (Resilience4j's slow-call rate stays unused).
            h.breaker.onError(0, TimeUnit.NANOSECONDS, new ConnectionFailure());
        } else if ("none".equals(d.relay())) {
            // No server was asked (a DNS failure, an address refused before connecting): no verdict.
            h.breaker.releasePermission();
        } else {
            h.failuresInARow.set(0);
            h.breaker.onSuccess(0, TimeUnit.NANOSECONDS);
        }
    }

    /** Marks a connection-level failure in the breaker's metrics; never thrown. */
    private static final class ConnectionFailure extends Exception {
        ConnectionFailure() {
            super("connection failure", null, false, false);
        }
    }

    /** The suspension of a next hop whose breaker is open, or empty; asks nothing of the breaker. */
    public Optional<Suspension> suspended(String hop) {
        Hop h = hops.get(hop);
        if (h == null || !active || h.breaker.getState() != CircuitBreaker.State.OPEN) {
            return Optional.empty();
        }
        return Optional.of(suspension(h));
    }

    private static Suspension suspension(Hop h) {
        LastError e = h.lastError;
        return new Suspension(e.dsn(), "delivery temporarily suspended: " + e.detail());
    }

    /** Every next hop seen so far and its breaker state, sorted by name. */
    public Map<String, BreakerState> states() {
        Map<String, BreakerState> out = new TreeMap<>();
        hops.forEach((name, h) -> out.put(name, state(h.breaker.getState())));
        return out;
    }

    private Hop hop(String name) {
        return hops.computeIfAbsent(name, Hop::new);
    }

    private static BreakerState state(CircuitBreaker.State s) {
        return switch (s) {
            case OPEN, FORCED_OPEN -> BreakerState.OPEN;
            case HALF_OPEN -> BreakerState.HALF_OPEN;
            default -> BreakerState.CLOSED;
        };
    }

    private void changed(Hop h, CircuitBreaker.StateTransition t) {
        long probeIn = Math.max(1, settings.openTime().toSeconds());
        switch (t.getToState()) {
            case OPEN -> {
                if (t.getFromState() == CircuitBreaker.State.HALF_OPEN) {
                    LOG.warn("next hop {}: probe failed ({}); circuit open again; next probe in {}s", h.name,
                            h.lastError.detail(), probeIn);
                } else {
                    int n = h.failuresInARow.get();
                    LOG.warn("next hop {}: circuit open after {} connection failure{} ({}); next probe in {}s",
                            h.name, n, n == 1 ? "" : "s", h.lastError.detail(), probeIn);
                }
            }
            case HALF_OPEN -> LOG.info("next hop {}: circuit half-open, letting one probe through", h.name);
            case CLOSED -> LOG.info("next hop {}: circuit closed, the probe got a session", h.name);
            default -> LOG.info("next hop {}: circuit {}", h.name, t.getToState());
        }
        try {
            listener.accept(h.name, state(t.getToState()));
        } catch (RuntimeException e) {
            LOG.warn("next hop {}: breaker listener failed: {}", h.name, e.toString());
        }
    }

    // ---- throttling ----

    /**
     * The throttling reply code among the results (454 at any stage, 421 after the greeting), or 0.
     * A 421 greeting is a refused connection, which the breaker handles.
     */
    static int throttlingCode(SmtpDelivery d) {
        for (RecipientResult r : d.results()) {
            String reply = r.reply();
            if (reply == null || r.status() != RecipientResult.Status.DEFERRED) {
                continue;
            }
            if (reply.startsWith("454")) {
                return 454;
            }
            if (reply.startsWith("421") && !d.connectionFailure()) {
                return 421;
            }
        }
        return 0;
    }

    private void observeReplies(String lane, SmtpDelivery d) {
        int code = throttlingCode(d);
        if (code != 0) {
            throttled(lane, code);
        } else if (d.results().stream().anyMatch(r -> r.status() == RecipientResult.Status.SENT)) {
            delivered(lane);
        }
    }

    /**
     * The upstream asked the lane to slow down: pause it for 1 s, or twice the last pause (at
     * most 60 s). Replies that arrive while the lane is already paused come from transactions
     * begun before the pause and do not lengthen it again.
     */
    public void throttled(String lane, int code) {
        if (!active) {
            return;
        }
        long now = clock.millis();
        Throttle t = throttles.computeIfAbsent(lane, k -> new Throttle());
        long pause;
        synchronized (t) {
            if (now < t.untilMillis) {
                return;
            }
            t.pauseMillis = t.pauseMillis == 0 ? PAUSE_MIN.toMillis() : Math.min(PAUSE_MAX.toMillis(), 2 * t.pauseMillis);
            t.untilMillis = now + t.pauseMillis;
            t.code = code;
            pause = t.pauseMillis;
        }
        LOG.info("lane {}: upstream answered {} (throttling); pausing {} ms", lane, code, pause);
    }

    /** A delivery on the lane went through: halve the pause the next throttling reply would start from. */
    public void delivered(String lane) {
        Throttle t = throttles.get(lane);
        if (t == null) {
            return;
        }
        synchronized (t) {
            t.pauseMillis = t.pauseMillis / 2 < PAUSE_MIN.toMillis() ? 0 : t.pauseMillis / 2;
        }
    }

    /** Until when (epoch ms) the lane is paused for throttling; 0 or a past time when it is not. */
    public long pausedUntilMillis(String lane) {
        Throttle t = throttles.get(lane);
        if (t == null) {
            return 0;
        }
        synchronized (t) {
            return t.untilMillis;
        }
    }

    /** The reply code that paused the lane last (454 or 421), or 0. */
    public int throttlingCode(String lane) {
        Throttle t = throttles.get(lane);
        if (t == null) {
            return 0;
        }
        synchronized (t) {
            return t.code;
        }
    }
}
