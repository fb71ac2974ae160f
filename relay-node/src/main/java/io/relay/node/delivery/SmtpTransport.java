package io.relay.node.delivery;

import io.relay.node.dkim.MessageSigning;
import io.relay.node.log.MailLog;
import io.relay.node.metrics.RelayMetrics;
import io.relay.queue.Envelope;
import io.relay.queue.MessageBody;
import io.relay.queue.QueuedMessage;
import io.relay.routing.Agent;
import io.relay.routing.NextHop;
import io.relay.routing.RateLimit;
import io.relay.routing.Route;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The SMTP transport: delivers a lane's recipients to the route's next hop, then to its
 * fallback relays for what was deferred, inside the lane's limits. No head-of-line blocking:
 * a lane that is busy, paused by its upstream's throttling replies, or whose slot is further
 * away than the limiter waits, postpones its recipients ({@link Attempted#postponed()}: no
 * attempt counted, no log line), so one slow or throttled next hop never holds the workers
 * that other next hops need.
 * Settings: the route's concurrency and rates, smtp.destination-concurrency-limit (lanes
 * without their own), the breaker settings (via {@link NextHopGuard}).
 */
final class SmtpTransport {
    private final SmtpClient smtp;
    private final NextHopLimiter limiter;
    private final int defaultConcurrency;
    private final NextHopGuard guard;
    private final MailLog log;
    private final RelayMetrics metrics;
    private final Clock clock;
    private final DkimStep dkim;
    private final Map<String, LanePace> paces = new ConcurrentHashMap<>();
    private final NextHopLimiter nodeLimits = new LocalNextHopLimiter(Duration.ofSeconds(10));
    private final Map<String, List<String>> hopsByLane = new ConcurrentHashMap<>();
    /** Send rates as configured (text) to their parsed form: parsed once, not per delivery. */
    private final Map<List<String>, List<RateLimit>> parsedRates = new ConcurrentHashMap<>();

    /**
     * @param limiter            per-lane concurrency and rate limits (a transport's own concurrency)
     * @param defaultConcurrency connections per lane and node when the route sets none
     *                           (smtp.destination-concurrency-limit)
     * @param guard              circuit breakers per next hop, connection retries, throttling pauses per lane
     */
    SmtpTransport(SmtpClient smtp, NextHopLimiter limiter, int defaultConcurrency, NextHopGuard guard, MailLog log,
                  RelayMetrics metrics, Clock clock, DkimStep dkim) {
        this.smtp = smtp;
        this.limiter = limiter;
        this.defaultConcurrency = defaultConcurrency;
        this.guard = guard;
        this.log = log;
        this.metrics = metrics;
        this.clock = clock;
        this.dkim = dkim;
    }

    /**
     * SMTP delivery inside the lane's limits. No head-of-line blocking: this node lets at
     * most {@link #engagedCap} of its workers work on (or wait for) one lane; the lane's
     * other messages are postponed, spaced by the lane's pace, and the workers go on with
     * other next hops. An engaged worker takes a connection slot, connects, and takes the
     * rate slot right before MAIL FROM ({@link SmtpClient.TransactionGate}); a slot that
     * does not come within the limiter's longest wait postpones the delivery too.
     */
    List<Attempted> deliver(Route route, Agent.Smtp agent, QueuedMessage message, List<String> rcpts) {
        String lane = route.laneKey();
        long pausedFor = guard.pausedUntilMillis(lane) - clock.millis();
        if (pausedFor > 0) {
            // The upstream said "slow down" (454/421): hold the lane without connecting and
            // without counting an attempt; the recipients come back when the pause ends.
            return holdAll(rcpts, clock.millis() + pausedFor, "delivery temporarily paused: " + agent.nextHop().text()
                    + " answered " + guard.throttlingCode(lane) + " throttling, next try in " + (pausedFor + 999) / 1000 + "s");
        }
        int concurrency = route.limits().concurrency() > 0 ? route.limits().concurrency() : defaultConcurrency;
        List<RateLimit> rates = parsedRates.computeIfAbsent(route.limits().rates(),
                k -> k.stream().map(RateLimit::parse).toList());
        LanePace pace = paces.computeIfAbsent(lane, k -> new LanePace());
        hopsByLane.computeIfAbsent(lane, k -> {
            List<String> hops = new ArrayList<>();
            hops.add(agent.nextHop().text());
            route.fallbackRelays().forEach(h -> hops.add(h.text()));
            return List.copyOf(hops);
        });
        int cap = engagedCap(concurrency, rates);
        if (!pace.engage(cap)) {
            long until = pace.postponeUntil(clock.millis(), cap, rates);
            return holdAll(rcpts, until, "lane " + lane + " busy: " + cap + " deliveries of this node under way");
        }
        long started = System.nanoTime();
        try {
            // Signed here, once per delivery attempt of each lane (a message to three next
            // hops is signed three times, a retry signs again: t= is then the send time), after
            // the lane admitted it and before a connection slot is taken, so a held message
            // holds no slot. Cost: one pass over the content for the body hash (a spooled
            // body is read from disk once more) plus one RSA or Ed25519 signature per key.
            MessageBody content = message.body();
            MessageSigning.Outcome signing = dkim.apply(route, message);
            if (signing instanceof MessageSigning.Outcome.Signed s) {
                content = s.content();
            } else if (signing instanceof MessageSigning.Outcome.Held h) {
                List<Attempted> out = new ArrayList<>();
                for (String r : rcpts) {
                    out.add(new Attempted("smtp", "none", 0, 0, RecipientResult.deferred(r, h.dsn(), h.reason())));
                }
                return out;
            }
            // A transport's own concurrency counts for the whole cluster; the default
            // (smtp.destination-concurrency-limit, Postfix's per-host default) per node.
            Optional<NextHopLimiter.ConnectionPermit> slot = route.limits().concurrency() > 0
                    ? limiter.acquireConnection(lane, concurrency)
                    : nodeLimits.acquireConnection(lane, concurrency);
            if (slot.isEmpty()) {
                long until = clock.millis() + 500 + ThreadLocalRandom.current().nextLong(500);
                return holdAll(rcpts, until, "concurrency limited: all " + concurrency
                        + " connection slots of " + lane + " stayed busy");
            }
            try (NextHopLimiter.ConnectionPermit held = slot.get()) {
                SmtpClient.TransactionGate gate = rates.isEmpty() ? SmtpClient.TransactionGate.OPEN : () -> {
                    NextHopLimiter.RateDecision decision = limiter.awaitRate(lane, rates, rcpts.size());
                    if (decision instanceof NextHopLimiter.RateDecision.Proceed go
                            && go.waited().toMillis() >= 1) {
                        metrics.rateLimitWait(agent.nextHop().text(), go.waited());
                    }
                    if (decision instanceof NextHopLimiter.RateDecision.Refused no) {
                        long until = clock.millis() + Math.max(1, no.wouldWait().toMillis());
                        return new SmtpClient.Held(until, heldReason(agent.nextHop().text(), lane, no, until));
                    }
                    return null;
                };
                return deliverHops(route, agent, message, content, rcpts, gate);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return holdAll(rcpts, clock.millis() + 1000, "delivery interrupted while waiting for " + lane);
        } finally {
            pace.disengage(System.nanoTime() - started);
        }
    }

    /**
     * Why a rate held the delivery back, as {@code relayctl queue} shows it: a quota with the
     * time its next slot opens (hours away, so a time is what the operator needs), a send rate
     * with the seconds to wait.
     */
    static String heldReason(String nextHop, String lane, NextHopLimiter.RateDecision.Refused no, long untilMillis) {
        RateLimit by = no.limitedBy();
        if (by != null && LaneRateSchedule.isQuota(by)) {
            String which = by.period().equals(Duration.ofDays(1)) ? "daily quota" : "quota";
            return which + " of " + by.text() + " for " + nextHop + " reached; next slot at "
                    + Instant.ofEpochMilli(untilMillis).truncatedTo(ChronoUnit.SECONDS);
        }
        return "rate limited: " + lane + " allows " + by + ", next slot in "
                + Math.max(1, no.wouldWait().toSeconds()) + "s";
    }

    /**
     * How many of this node's workers one lane may hold: its concurrency, and with send rates
     * no more than one second's worth plus one (more would only sleep in the rate wait).
     */
    static int engagedCap(int concurrency, List<RateLimit> rates) {
        long cap = concurrency;
        for (RateLimit r : rates) {
            if (!LaneRateSchedule.isQuota(r)) {
                double perSecond = r.permits() * 1e9 / r.period().toNanos();
                cap = Math.min(cap, (long) Math.ceil(perSecond) + 1);
            }
        }
        return (int) Math.max(1, cap);
    }

    /** This node's view of one lane: engaged workers, their mean delivery time, and the postponement horizon. */
    static final class LanePace {
        private int engaged;
        private double meanNanos = 50_000_000; // a first guess: 50 ms per delivery
        private long horizonMillis;

        synchronized boolean engage(int cap) {
            if (engaged >= cap) {
                return false;
            }
            engaged++;
            return true;
        }

        synchronized void disengage(long tookNanos) {
            engaged--;
            meanNanos = meanNanos * 0.9 + tookNanos * 0.1;
        }

        /**
         * Spreads postponed messages over the time the lane needs for them: each one a
         * rate interval (or a mean delivery time divided by the cap) after the one before.
         */
        synchronized long postponeUntil(long nowMillis, int cap, List<RateLimit> rates) {
            double step = meanNanos / cap / 1e6;
            for (RateLimit r : rates) {
                if (!LaneRateSchedule.isQuota(r)) {
                    step = Math.max(step, r.period().toMillis() / (double) r.permits());
                }
            }
            horizonMillis = Math.max(horizonMillis, nowMillis) + Math.max(1, Math.round(step));
            return horizonMillis;
        }
    }

    private static List<Attempted> holdAll(List<String> rcpts, long untilMillis, String why) {
        List<Attempted> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(new Attempted("smtp", "none", 0, 0, RecipientResult.deferred(r, "4.4.5", why), untilMillis));
        }
        return out;
    }

    /** Closes this node's idle connections of a lane (before its cluster connection lease goes back). */
    void closeIdleConnections(String laneKey) {
        List<String> hops = hopsByLane.get(laneKey);
        if (hops != null) {
            smtp.closeIdle(hops);
        }
    }

    private List<Attempted> deliverHops(Route route, Agent.Smtp agent, QueuedMessage message, MessageBody content,
                                        List<String> rcpts,
                                        SmtpClient.TransactionGate gate) {
        Envelope env = message.envelope();
        SmtpClient.Policy policy = new SmtpClient.Policy(route.tlsLevel(),
                route.tlsCaFile() == null ? null : Path.of(route.tlsCaFile()), route.credentials(),
                route.connectionReuse());
        List<NextHop> hops = new ArrayList<>();
        hops.add(agent.nextHop());
        hops.addAll(route.fallbackRelays());
        Map<String, Attempted> decided = new LinkedHashMap<>();
        List<String> pending = rcpts;
        for (int i = 0; i < hops.size() && !pending.isEmpty(); i++) {
            NextHop hop = hops.get(i);
            List<String> rcptsNow = pending;
            // Through the hop's breaker (suspended: deferred without connecting, relay=none), with
            // connection retries; throttling replies pause the lane.
            SmtpDelivery d = guard.deliver(route.laneKey(), hop, rcptsNow, () -> smtp.deliver(hop, policy,
                    env.sender(), rcptsNow, content, env.smtpUtf8(), env.eightBitMime(), gate));
            List<String> again = new ArrayList<>();
            for (RecipientResult r : d.results()) {
                boolean heldBack = d.held() != null && r.status() == RecipientResult.Status.DEFERRED;
                decided.put(r.recipient(), new Attempted("smtp", d.relay(), d.setupNanos(), d.transmitNanos(), r,
                        heldBack ? d.held().untilMillis() : 0));
                if (r.status() == RecipientResult.Status.DEFERRED && !heldBack) {
                    again.add(r.recipient());
                }
            }
            if (!again.isEmpty() && i + 1 < hops.size()) {
                // Say why the fallback is used: a silent switch hides a broken primary (or resolver).
                String why = d.results().stream().filter(r -> r.recipient().equals(again.get(0)))
                        .map(RecipientResult::detail).findFirst().orElse("");
                log.smtp(message.id() + ": " + hop.text() + " failed for " + again.size() + " recipient(s) (" + why
                        + "); trying fallback relay " + hops.get(i + 1).text());
            }
            pending = again;
        }
        List<Attempted> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(decided.get(r));
        }
        return out;
    }
}
