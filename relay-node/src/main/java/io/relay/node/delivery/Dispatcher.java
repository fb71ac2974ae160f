package io.relay.node.delivery;

import io.relay.node.log.MailLog;
import io.relay.node.metrics.RelayMetrics;
import io.relay.queue.DeliveryAttempt;
import io.relay.queue.DeliveryHandler;
import io.relay.queue.MessageQueue;
import io.relay.queue.QueuedMessage;
import io.relay.queue.RecipientOutcome;
import io.relay.routing.Agent;
import io.relay.routing.Route;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiFunction;

/**
 * The node's delivery handler: for each due message, routes every pending recipient, groups
 * them by lane ({@code route.laneKey()}) and hands each group to the transport of its route's
 * {@link Agent}: {@link SmtpTransport} (next hop, then fallback relays, inside the lane's
 * limits), {@link FileTransport}, or {@link VerdictTransports} (discard, error, defer). Each
 * tried recipient's outcome goes to {@link OutcomeLog} (mail log line, metrics); the
 * recipients that failed go back to the sender in one DSN per attempt ({@link Bounces}); and
 * {@code removed} is logged when nothing is left owed.
 *
 * <p>Runs on the queue's worker threads; everything here may block, including the wait for
 * a lane's connection slot and rate. Postponed recipients ({@link RecipientOutcome.Postponed})
 * were not tried: no attempt counted, no log line.
 * Settings: the routes (transport tables, per-transport concurrency and rates),
 * smtp.destination-concurrency-limit (lanes without their own), myhostname (via {@link DsnBuilder}).
 */
public final class Dispatcher implements DeliveryHandler {
    private final BiFunction<String, String, Route> router;
    private final SmtpTransport smtp;
    private final Bounces bounces;
    private final OutcomeLog outcomes;
    private final MailLog log;
    private final Clock clock;

    /**
     * @param router             (recipient, sender) → route; the routing module's Router
     * @param limiter            per-lane concurrency and rate limits for SMTP deliveries
     * @param defaultConcurrency connections per lane when the route sets none
     *                           (smtp.destination-concurrency-limit)
     * @param guard              circuit breakers per next hop, connection retries, throttling pauses per lane
     * @param queue              where non-delivery notifications are queued
     * @param hostname           myhostname, the HELO name of generated notifications
     * @param metrics            each recipient's attempt and, once sent, its delay
     * @param dkim               signs SMTP deliveries (issue 21), or {@link DkimStep#OFF}
     */
    public Dispatcher(BiFunction<String, String, Route> router, SmtpClient client, NextHopLimiter limiter,
                      int defaultConcurrency, NextHopGuard guard, MessageQueue queue, DsnBuilder dsn, MailLog log,
                      String hostname, Clock clock, RelayMetrics metrics, DkimStep dkim) {
        Objects.requireNonNull(metrics, "metrics");
        this.router = router;
        this.smtp = new SmtpTransport(client, limiter, defaultConcurrency, guard, log, metrics, clock, dkim);
        this.bounces = new Bounces(queue, dsn, log, hostname, clock);
        this.outcomes = new OutcomeLog(log, metrics, clock);
        this.log = log;
        this.clock = clock;
    }

    @Override
    public List<RecipientOutcome> deliver(DeliveryAttempt attempt) {
        QueuedMessage message = attempt.message();
        long attemptStart = clock.millis();
        Map<String, List<String>> lanes = new LinkedHashMap<>();
        Map<String, Route> routes = new LinkedHashMap<>();
        for (String rcpt : attempt.recipients()) {
            Route route = router.apply(rcpt, message.envelope().sender());
            lanes.computeIfAbsent(route.laneKey(), k -> new ArrayList<>()).add(rcpt);
            routes.putIfAbsent(route.laneKey(), route);
        }
        Map<String, RecipientOutcome> decided = new LinkedHashMap<>();
        List<DsnBuilder.Failure> failures = new ArrayList<>();
        for (Map.Entry<String, List<String>> lane : lanes.entrySet()) {
            Route route = routes.get(lane.getKey());
            for (Attempted a : carry(route, message, lane.getValue())) {
                RecipientResult r = a.result();
                if (a.postponed()) {
                    decided.put(r.recipient(), new RecipientOutcome.Postponed(r.recipient(), a.heldUntil(), r.detail()));
                    continue;
                }
                outcomes.record(route, message, a, attemptStart);
                decided.put(r.recipient(), switch (r.status()) {
                    case SENT -> new RecipientOutcome.Delivered(r.recipient());
                    case DEFERRED -> new RecipientOutcome.Deferred(r.recipient(), r.detail());
                    case BOUNCED -> new RecipientOutcome.Failed(r.recipient(), r.detail());
                });
                if (r.status() == RecipientResult.Status.BOUNCED) {
                    failures.add(new DsnBuilder.Failure(r.recipient(), r.dsn(), r.remoteMta(), r.reply(), r.detail()));
                }
            }
        }
        if (!failures.isEmpty()) {
            bounces.returnToSender(message, failures);
        }
        if (decided.values().stream().noneMatch(o -> o instanceof RecipientOutcome.Deferred
                || o instanceof RecipientOutcome.Postponed)) {
            log.qmgr(message.id() + ": removed");
        }
        List<RecipientOutcome> ordered = new ArrayList<>();
        for (String rcpt : attempt.recipients()) {
            ordered.add(decided.get(rcpt));
        }
        return ordered;
    }

    /** One lane's recipients through its route's transport: one case per kind of agent. */
    private List<Attempted> carry(Route route, QueuedMessage message, List<String> rcpts) {
        return route.agent().match(new Agent.Cases<>() {
            @Override
            public List<Attempted> smtp(Agent.Smtp agent) {
                return smtp.deliver(route, agent, message, rcpts);
            }

            @Override
            public List<Attempted> file(Agent.FileDrop agent) {
                return FileTransport.deliver(agent, message, rcpts);
            }

            @Override
            public List<Attempted> discard(Agent.Discard agent) {
                return VerdictTransports.discard(agent, rcpts);
            }

            @Override
            public List<Attempted> bounce(Agent.Bounce agent) {
                return VerdictTransports.bounce(agent, rcpts);
            }

            @Override
            public List<Attempted> defer(Agent.Defer agent) {
                return VerdictTransports.defer(agent, rcpts);
            }
        });
    }

    @Override
    public void expired(QueuedMessage message, List<RecipientOutcome.Deferred> lastOutcomes) {
        log.qmgr(message.id() + ": from=<" + message.envelope().sender() + ">, status=expired, returned to sender");
        bounces.expired(message, lastOutcomes);
        log.qmgr(message.id() + ": removed");
    }

    /** Closes this node's idle connections of a lane (before its cluster connection lease goes back). */
    public void closeIdleConnections(String laneKey) {
        smtp.closeIdleConnections(laneKey);
    }
}
