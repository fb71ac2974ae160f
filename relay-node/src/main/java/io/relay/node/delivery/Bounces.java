package io.relay.node.delivery;

import io.relay.node.log.MailLog;
import io.relay.queue.Envelope;
import io.relay.queue.MessageQueue;
import io.relay.queue.QueueId;
import io.relay.queue.QueuedMessage;
import io.relay.queue.RecipientOutcome;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Returns undeliverable mail to its sender: one DSN per delivery attempt (or expiry) covering
 * every recipient that failed in it, queued as a new message from the null sender to the
 * original sender, so it is delivered, retried and logged like any other. Mail from the null
 * sender gets none: a bounce of a bounce would loop (Postfix drops it too).
 * Settings: myhostname (the DSN's Reporting-MTA and the notification's HELO name).
 */
final class Bounces {
    private final MessageQueue queue;
    private final DsnBuilder dsn;
    private final MailLog log;
    private final String hostname;
    private final Clock clock;

    Bounces(MessageQueue queue, DsnBuilder dsn, MailLog log, String hostname, Clock clock) {
        this.queue = queue;
        this.dsn = dsn;
        this.log = log;
        this.hostname = hostname;
        this.clock = clock;
    }

    /** Returns the recipients whose last outcome was a deferral when the message outlived the queue lifetime. */
    void expired(QueuedMessage message, List<RecipientOutcome.Deferred> lastOutcomes) {
        List<DsnBuilder.Failure> failures = new ArrayList<>();
        for (RecipientOutcome.Deferred d : lastOutcomes) {
            failures.add(new DsnBuilder.Failure(d.recipient(), "4.4.7", null, null,
                    "message expired in the queue; last error: " + d.reason()));
        }
        returnToSender(message, failures);
    }

    void returnToSender(QueuedMessage message, List<DsnBuilder.Failure> failures) {
        Envelope env = message.envelope();
        if (env.nullSender()) {
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
}
