package io.relay.node.delivery;

import io.relay.node.log.MailLog;
import io.relay.node.metrics.DeliveryResult;
import io.relay.node.metrics.RelayMetrics;
import io.relay.queue.DeliveryAttempt;
import io.relay.queue.DeliveryHandler;
import io.relay.queue.Envelope;
import io.relay.queue.MessageQueue;
import io.relay.queue.QueueId;
import io.relay.queue.QueuedMessage;
import io.relay.queue.RecipientOutcome;
import io.relay.routing.NextHop;
import io.relay.routing.RateLimit;
import io.relay.routing.Route;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

/**
 * The node's delivery handler: for each due message, routes every pending recipient,
 * groups them by lane ({@code route.laneKey()}) and hands each group to its transport —
 * SMTP (primary next hop, then the route's fallback relays for what was deferred), file
 * (one .eml per message, written to a temporary name, fsync'd, renamed), discard, error
 * (permanent failure with the route's text) and defer. Writes one Postfix-shaped mail log
 * line per recipient, returns bounced recipients to the sender in one DSN per attempt
 * (never for the null sender), and logs {@code removed} when nothing is left owed.
 *
 * <p>Runs on the queue's worker threads; everything here may block, including the wait for
 * a lane's connection slot and rate ({@link NextHopLimiter}). A lane that is busy, or whose
 * slot is further away than the limiter waits, postpones its recipients
 * ({@link RecipientOutcome.Postponed}: no attempt counted, no log line), so one slow or
 * throttled next hop never holds the workers that other next hops need.
 * Settings: the routes (transport tables, per-transport concurrency and rates),
 * smtp.destination-concurrency-limit (lanes without their own), myhostname (via {@link DsnBuilder}).
 */
public final class Dispatcher implements DeliveryHandler {
    private final BiFunction<String, String, Route> router;
    private final SmtpClient smtp;
    private final NextHopLimiter limiter;
    private final int defaultConcurrency;
    private final MessageQueue queue;
    private final DsnBuilder dsn;
    private final MailLog log;
    private final String hostname;
    private final Clock clock;
    private final Map<String, LanePace> paces = new java.util.concurrent.ConcurrentHashMap<>();
    private final NextHopLimiter nodeLimits = new LocalNextHopLimiter(java.time.Duration.ofSeconds(10));
    private final Map<String, List<String>> hopsByLane = new java.util.concurrent.ConcurrentHashMap<>();
    /** Send rates as configured (text) to their parsed form: parsed once, not per delivery. */
    private final Map<List<String>, List<RateLimit>> parsedRates = new java.util.concurrent.ConcurrentHashMap<>();
    private RelayMetrics metrics; // null: not recorded (set only by the constructor that takes it)
    private final NextHopGuard guard;

    /**
     * @param router   (recipient, sender) → route; the routing module's Router
     * @param hostname myhostname, the HELO name of generated notifications
     */
    public Dispatcher(BiFunction<String, String, Route> router, SmtpClient smtp, MessageQueue queue, DsnBuilder dsn,
                      MailLog log, String hostname, Clock clock) {
        this(router, smtp, NextHopLimiter.unlimited(), Integer.MAX_VALUE, queue, dsn, log, hostname, clock);
    }

    /**
     * @param limiter            per-lane concurrency and rate limits for SMTP deliveries
     * @param defaultConcurrency connections per lane when the route sets none
     *                           (smtp.destination-concurrency-limit)
     */
    public Dispatcher(BiFunction<String, String, Route> router, SmtpClient smtp, NextHopLimiter limiter,
                      int defaultConcurrency, MessageQueue queue, DsnBuilder dsn, MailLog log, String hostname,
                      Clock clock) {
        this(router, smtp, limiter, defaultConcurrency, NextHopGuard.inactive(), queue, dsn, log, hostname, clock);
    }

    /** @param guard circuit breakers per next hop, connection retries, throttling pauses per lane */
    public Dispatcher(BiFunction<String, String, Route> router, SmtpClient smtp, NextHopLimiter limiter,
                      int defaultConcurrency, NextHopGuard guard, MessageQueue queue, DsnBuilder dsn, MailLog log,
                      String hostname, Clock clock) {
        this.guard = guard;
        this.router = router;
        this.smtp = smtp;
        this.limiter = limiter;
        this.defaultConcurrency = defaultConcurrency;
        this.queue = queue;
        this.dsn = dsn;
        this.log = log;
        this.hostname = hostname;
        this.clock = clock;
    }

    /** As above, recording each recipient's attempt and, once sent, its delay in {@code metrics}. */
    public Dispatcher(BiFunction<String, String, Route> router, SmtpClient smtp, NextHopLimiter limiter,
                      int defaultConcurrency, NextHopGuard guard, MessageQueue queue, DsnBuilder dsn, MailLog log,
                      String hostname, Clock clock, RelayMetrics metrics) {
        this(router, smtp, limiter, defaultConcurrency, guard, queue, dsn, log, hostname, clock);
        this.metrics = java.util.Objects.requireNonNull(metrics, "metrics");
    }

    @Override
    public List<RecipientOutcome> deliver(DeliveryAttempt attempt) {
        QueuedMessage message = attempt.message();
        Envelope env = message.envelope();
        long attemptStart = clock.millis();
        Map<String, List<String>> lanes = new LinkedHashMap<>();
        Map<String, Route> routes = new LinkedHashMap<>();
        for (String rcpt : attempt.recipients()) {
            Route route = router.apply(rcpt, env.sender());
            lanes.computeIfAbsent(route.laneKey(), k -> new ArrayList<>()).add(rcpt);
            routes.putIfAbsent(route.laneKey(), route);
        }
        Map<String, RecipientOutcome> outcomes = new LinkedHashMap<>();
        List<DsnBuilder.Failure> failures = new ArrayList<>();
        for (Map.Entry<String, List<String>> lane : lanes.entrySet()) {
            Route route = routes.get(lane.getKey());
            for (Logged l : deliverLane(route, message, lane.getValue())) {
                RecipientResult r = l.result;
                if (l.heldUntil > 0) {
                    outcomes.put(r.recipient(), new RecipientOutcome.Postponed(r.recipient(), l.heldUntil, r.detail()));
                    continue;
                }
                log(l.program, route, message, r, l.relay, attemptStart, l.setupNanos, l.transmitNanos);
                switch (r.status()) {
                    case SENT -> outcomes.put(r.recipient(), new RecipientOutcome.Delivered(r.recipient()));
                    case DEFERRED -> outcomes.put(r.recipient(), new RecipientOutcome.Deferred(r.recipient(), r.detail()));
                    case BOUNCED -> {
                        outcomes.put(r.recipient(), new RecipientOutcome.Failed(r.recipient(), r.detail()));
                        failures.add(new DsnBuilder.Failure(r.recipient(), r.dsn(), r.remoteMta(), r.reply(), r.detail()));
                    }
                }
            }
        }
        if (!failures.isEmpty()) {
            returnToSender(message, failures);
        }
        if (outcomes.values().stream().noneMatch(o -> o instanceof RecipientOutcome.Deferred
                || o instanceof RecipientOutcome.Postponed)) {
            log.qmgr(message.id() + ": removed");
        }
        List<RecipientOutcome> ordered = new ArrayList<>();
        for (String rcpt : attempt.recipients()) {
            ordered.add(outcomes.get(rcpt));
        }
        return ordered;
    }

    @Override
    public void expired(QueuedMessage message, List<RecipientOutcome.Deferred> lastOutcomes) {
        log.qmgr(message.id() + ": from=<" + message.envelope().sender() + ">, status=expired, returned to sender");
        List<DsnBuilder.Failure> failures = new ArrayList<>();
        for (RecipientOutcome.Deferred d : lastOutcomes) {
            failures.add(new DsnBuilder.Failure(d.recipient(), "4.4.7", null, null,
                    "message expired in the queue; last error: " + d.reason()));
        }
        returnToSender(message, failures);
        log.qmgr(message.id() + ": removed");
    }

    // ---- transports ----

    /** One recipient's result; {@code heldUntil > 0} means postponed: not tried, not logged, no attempt counted. */
    private record Logged(String program, String relay, long setupNanos, long transmitNanos, RecipientResult result,
                          long heldUntil) {
        Logged(String program, String relay, long setupNanos, long transmitNanos, RecipientResult result) {
            this(program, relay, setupNanos, transmitNanos, result, 0);
        }
    }

    private List<Logged> deliverLane(Route route, QueuedMessage message, List<String> rcpts) {
        // By name, so that kinds the routing module adds later (DEFER) compile against older jars.
        String kind = route.kind().name();
        List<Logged> out = new ArrayList<>();
        switch (kind) {
            case "SMTP" -> out.addAll(deliverSmtp(route, message, rcpts));
            case "FILE" -> {
                RecipientResult.Status s;
                String detail;
                String code;
                try {
                    Path file = writeFile(Path.of(route.argument()), message, rcpts);
                    s = RecipientResult.Status.SENT;
                    code = "2.0.0";
                    detail = "delivered to file: " + file;
                } catch (IOException e) {
                    s = RecipientResult.Status.DEFERRED;
                    code = "4.3.0";
                    detail = "cannot write to file in " + route.argument() + ": " + e.getClass().getSimpleName();
                }
                for (String r : rcpts) {
                    out.add(new Logged("file", "file", 0, 0, new RecipientResult(r, s, code, detail, null, null)));
                }
            }
            case "DISCARD" -> {
                String text = route.argument().isEmpty() ? "discarded" : route.argument();
                for (String r : rcpts) {
                    out.add(new Logged("discard", "none", 0, 0, RecipientResult.sent(r, text)));
                }
            }
            case "ERROR" -> {
                String text = route.argument().isEmpty() ? "delivery refused by the error transport" : route.argument();
                for (String r : rcpts) {
                    out.add(new Logged("error", "none", 0, 0, RecipientResult.bounced(r, leadingDsn(text, "5.0.0"), text)));
                }
            }
            default -> {
                // DEFER, e.g. an unknown transport: kept in the queue and retried, as Postfix's
                // error agent does with "mail transport unavailable" (dsn 4.3.0).
                String text = route.argument().isEmpty() ? "delivery temporarily suspended" : route.argument();
                String code = text.startsWith("mail transport unavailable") ? "4.3.0" : "4.0.0";
                for (String r : rcpts) {
                    out.add(new Logged("error", "none", 0, 0, RecipientResult.deferred(r, leadingDsn(text, code), text)));
                }
            }
        }
        return out;
    }

    private static String leadingDsn(String text, String otherwise) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^[45]\\.\\d{1,3}\\.\\d{1,3}\\b").matcher(text);
        return m.find() ? m.group() : otherwise;
    }

    /**
     * SMTP delivery inside the lane's limits. No head-of-line blocking: this node lets at
     * most {@link #engagedCap} of its workers work on (or wait for) one lane; the lane's
     * other messages are postponed, spaced by the lane's pace, and the workers go on with
     * other next hops. An engaged worker takes a connection slot, connects, and takes the
     * rate slot right before MAIL FROM ({@link SmtpClient.TransactionGate}); a slot that
     * does not come within the limiter's longest wait postpones the delivery too.
     */
    private List<Logged> deliverSmtp(Route route, QueuedMessage message, List<String> rcpts) {
        String lane = route.laneKey();
        long pausedFor = guard.pausedUntilMillis(lane) - clock.millis();
        if (pausedFor > 0) {
            // The upstream said "slow down" (454/421): hold the lane without connecting and
            // without counting an attempt; the recipients come back when the pause ends.
            return holdAll(rcpts, clock.millis() + pausedFor, "delivery temporarily paused: " + route.nextHop().text()
                    + " answered " + guard.throttlingCode(lane) + " throttling, next try in " + (pausedFor + 999) / 1000 + "s");
        }
        int concurrency = route.limits().concurrency() > 0 ? route.limits().concurrency() : defaultConcurrency;
        List<RateLimit> rates = parsedRates.computeIfAbsent(route.limits().rates(),
                k -> k.stream().map(RateLimit::parse).toList());
        LanePace pace = paces.computeIfAbsent(lane, k -> new LanePace());
        hopsByLane.computeIfAbsent(lane, k -> {
            List<String> hops = new ArrayList<>();
            hops.add(route.nextHop().text());
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
            // A transport's own concurrency counts for the whole cluster; the default
            // (smtp.destination-concurrency-limit, Postfix's per-host default) per node.
            Optional<NextHopLimiter.ConnectionPermit> slot = route.limits().concurrency() > 0
                    ? limiter.acquireConnection(lane, concurrency)
                    : nodeLimits.acquireConnection(lane, concurrency);
            if (slot.isEmpty()) {
                long until = clock.millis() + 500 + java.util.concurrent.ThreadLocalRandom.current().nextLong(500);
                return holdAll(rcpts, until, "concurrency limited: all " + concurrency
                        + " connection slots of " + lane + " stayed busy");
            }
            try (NextHopLimiter.ConnectionPermit held = slot.get()) {
                SmtpClient.TransactionGate gate = rates.isEmpty() ? SmtpClient.TransactionGate.OPEN : () -> {
                    NextHopLimiter.RateDecision decision = limiter.awaitRate(lane, rates, rcpts.size());
                    if (metrics != null && decision instanceof NextHopLimiter.RateDecision.Proceed go
                            && go.waited().toMillis() >= 1) {
                        metrics.rateLimitWait(route.nextHop().text(), go.waited());
                    }
                    if (decision instanceof NextHopLimiter.RateDecision.Refused no) {
                        long until = clock.millis() + Math.max(1, no.wouldWait().toMillis());
                        return new SmtpClient.Held(until, heldReason(route, lane, no, until));
                    }
                    return null;
                };
                return deliverSmtpHops(route, message, rcpts, gate);
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
    static String heldReason(Route route, String lane, NextHopLimiter.RateDecision.Refused no, long untilMillis) {
        RateLimit by = no.limitedBy();
        if (by != null && LaneRateSchedule.isQuota(by)) {
            String which = by.period().equals(java.time.Duration.ofDays(1)) ? "daily quota" : "quota";
            return which + " of " + by.text() + " for " + route.nextHop().text() + " reached; next slot at "
                    + Instant.ofEpochMilli(untilMillis).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
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

    private static List<Logged> holdAll(List<String> rcpts, long untilMillis, String why) {
        List<Logged> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(new Logged("smtp", "none", 0, 0, RecipientResult.deferred(r, "4.4.5", why), untilMillis));
        }
        return out;
    }

    /** Closes this node's idle connections of a lane (before its cluster connection lease goes back). */
    public void closeIdleConnections(String laneKey) {
        List<String> hops = hopsByLane.get(laneKey);
        if (hops != null) {
            smtp.closeIdle(hops);
        }
    }

    private List<Logged> deliverSmtpHops(Route route, QueuedMessage message, List<String> rcpts,
                                         SmtpClient.TransactionGate gate) {
        Envelope env = message.envelope();
        SmtpClient.Policy policy = new SmtpClient.Policy(route.tlsLevel(),
                route.tlsCaFile() == null ? null : Path.of(route.tlsCaFile()), route.credentials(),
                route.connectionReuse());
        List<NextHop> hops = new ArrayList<>();
        hops.add(route.nextHop());
        hops.addAll(route.fallbackRelays());
        Map<String, Logged> decided = new LinkedHashMap<>();
        List<String> pending = rcpts;
        for (int i = 0; i < hops.size() && !pending.isEmpty(); i++) {
            NextHop hop = hops.get(i);
            List<String> rcptsNow = pending;
            // Through the hop's breaker (suspended: deferred without connecting, relay=none), with
            // connection retries; throttling replies pause the lane.
            SmtpDelivery d = guard.deliver(route.laneKey(), hop, rcptsNow, () -> smtp.deliver(hop, policy,
                    env.sender(), rcptsNow, message.body(), env.smtpUtf8(), env.eightBitMime(), gate));
            List<String> again = new ArrayList<>();
            for (RecipientResult r : d.results()) {
                boolean heldBack = d.held() != null && r.status() == RecipientResult.Status.DEFERRED;
                decided.put(r.recipient(), new Logged("smtp", d.relay(), d.setupNanos(), d.transmitNanos(), r,
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
        List<Logged> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(decided.get(r));
        }
        return out;
    }

    private static Path writeFile(Path dir, QueuedMessage message, List<String> rcpts) throws IOException {
        Files.createDirectories(dir);
        StringBuilder head = new StringBuilder();
        head.append("Return-Path: <").append(message.envelope().sender()).append(">\r\n");
        for (String r : rcpts) {
            head.append("Delivered-To: ").append(r).append("\r\n");
        }
        Path tmp = dir.resolve("." + message.id().value() + ".eml.tmp");
        Path target = dir.resolve(message.id().value() + ".eml");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer first = ByteBuffer.wrap(head.toString().getBytes(StandardCharsets.UTF_8));
            while (first.hasRemaining()) {
                ch.write(first);
            }
            try (java.io.InputStream in = message.body().open()) { // a large message is copied as it is read
                byte[] buf = new byte[64 * 1024];
                for (int n; (n = in.read(buf)) > 0; ) {
                    ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                }
            }
            // The file is the delivery: it must be on disk before the queue forgets the message.
            ch.force(true);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException ignored) {
            // Some file systems refuse to open a directory for fsync; the rename is still atomic.
        }
        return target;
    }

    // ---- DSN and the mail log ----

    private void returnToSender(QueuedMessage message, List<DsnBuilder.Failure> failures) {
        Envelope env = message.envelope();
        if (env.nullSender()) {
            // A bounce of a bounce would loop; Postfix drops it too.
            log.bounce(message.id() + ": undeliverable mail from the null sender <>: no notification sent, dropped");
            return;
        }
        Instant now = clock.instant();
        byte[] content = dsn.build(message, failures, now);
        QueueId id = queue.newId();
        Envelope dsnEnv = new Envelope("", List.of(env.sender()), "localhost", "127.0.0.1", hostname, "local", false,
                false, now.toEpochMilli());
        try {
            queue.accept(new QueuedMessage(id, dsnEnv, content)).get(60, TimeUnit.SECONDS);
            log.bounce(message.id() + ": sender non-delivery notification: " + id);
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            log.warning("bounce", message.id() + ": cannot queue the non-delivery notification to <" + env.sender()
                    + ">: " + e.getClass().getSimpleName());
        }
    }

    /** One recipient's mail log line, and its attempt and delay metrics (by transport and the lane's next hop). */
    private void log(String program, Route route, QueuedMessage message, RecipientResult r, String relay,
                     long attemptStart, long setupNanos, long transmitNanos) {
        long now = clock.millis();
        double total = Math.max(0, now - message.envelope().arrivalMillis()) / 1000.0;
        double c = setupNanos / 1e9;
        double d = transmitNanos / 1e9;
        double b = Math.max(0, attemptStart - message.envelope().arrivalMillis()) / 1000.0;
        String status = switch (r.status()) {
            case SENT -> "sent";
            case DEFERRED -> "deferred";
            case BOUNCED -> "bounced";
        };
        String line = message.id() + ": to=<" + r.recipient() + ">, relay=" + relay + ", delay=" + seconds(total)
                + ", delays=0/" + seconds(b) + "/" + seconds(c) + "/" + seconds(d) + ", dsn=" + r.dsn()
                + ", status=" + status + " (" + r.detail() + ")";
        if ("smtp".equals(program)) {
            log.smtp(line);
        } else {
            log.agent(program, line);
        }
        if (metrics != null) {
            String nexthop = route.nextHop() == null ? "none" : route.nextHop().text();
            metrics.deliveryAttempt(route.transport(), nexthop, switch (r.status()) {
                case SENT -> DeliveryResult.DELIVERED;
                case DEFERRED -> DeliveryResult.DEFERRED;
                case BOUNCED -> DeliveryResult.FAILED;
            });
            if (r.status() == RecipientResult.Status.SENT) {
                metrics.deliveryDelay(route.transport(),
                        java.time.Duration.ofMillis(Math.max(0, now - message.envelope().arrivalMillis())));
            }
        }
    }

    /** Postfix's compact seconds: 0, 0.01, 0.5, 1.2, 37. */
    static String seconds(double s) {
        if (s < 0.005) {
            return "0";
        }
        // Rounded half up to 0 (from 10 s), 1 (from 1 s) or 2 decimals, trailing zeros dropped;
        // plain arithmetic: this runs for every recipient's log line.
        long scale = s >= 10 ? 1 : s >= 1 ? 10 : 100;
        long units = Math.round(s * scale);
        long whole = units / scale;
        long frac = units % scale;
        if (frac == 0) {
            return Long.toString(whole);
        }
        if (scale == 10) {
            return whole + "." + frac;
        }
        return frac % 10 == 0 ? whole + "." + frac / 10 : whole + (frac < 10 ? ".0" : ".") + frac;
    }
}
