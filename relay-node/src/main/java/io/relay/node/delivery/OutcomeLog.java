package io.relay.node.delivery;

import io.relay.node.log.MailLog;
import io.relay.node.metrics.DeliveryResult;
import io.relay.node.metrics.RelayMetrics;
import io.relay.queue.QueuedMessage;
import io.relay.routing.NextHop;
import io.relay.routing.Route;
import java.time.Clock;
import java.time.Duration;

/**
 * Records one recipient's tried outcome: its Postfix-shaped mail log line
 * ({@code to=<..>, relay=.., delay=.., delays=a/b/c/d, dsn=.., status=.. (..)}) and its attempt
 * and delay metrics, by transport and the lane's next hop. Postponed recipients are not
 * recorded: they were not tried.
 */
final class OutcomeLog {
    private final MailLog log;
    private final RelayMetrics metrics;
    private final Clock clock;

    OutcomeLog(MailLog log, RelayMetrics metrics, Clock clock) {
        this.log = log;
        this.metrics = metrics;
        this.clock = clock;
    }

    /** @param attemptStart when this delivery attempt began (epoch ms): the b of delays=a/b/c/d ends there */
    void record(Route route, QueuedMessage message, Attempted a, long attemptStart) {
        RecipientResult r = a.result();
        long now = clock.millis();
        long arrival = message.envelope().arrivalMillis();
        double total = Math.max(0, now - arrival) / 1000.0;
        double b = Math.max(0, attemptStart - arrival) / 1000.0;
        String status = switch (r.status()) {
            case SENT -> "sent";
            case DEFERRED -> "deferred";
            case BOUNCED -> "bounced";
        };
        String line = message.id() + ": to=<" + r.recipient() + ">, relay=" + a.relay() + ", delay=" + seconds(total)
                + ", delays=0/" + seconds(b) + "/" + seconds(a.setupNanos() / 1e9) + "/"
                + seconds(a.transmitNanos() / 1e9) + ", dsn=" + r.dsn() + ", status=" + status + " (" + r.detail() + ")";
        if ("smtp".equals(a.program())) {
            log.smtp(line);
        } else {
            log.agent(a.program(), line);
        }
        NextHop hop = route.nextHop();
        metrics.deliveryAttempt(route.transport(), hop == null ? "none" : hop.text(), switch (r.status()) {
            case SENT -> DeliveryResult.DELIVERED;
            case DEFERRED -> DeliveryResult.DEFERRED;
            case BOUNCED -> DeliveryResult.FAILED;
        });
        if (r.status() == RecipientResult.Status.SENT) {
            metrics.deliveryDelay(route.transport(), Duration.ofMillis(Math.max(0, now - arrival)));
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
