package io.relay.node.smtpd;

import io.netty.handler.ssl.SslContext;
import io.relay.node.log.MailLog;
import io.relay.node.metrics.RelayMetrics;
import io.relay.queue.MessageQueue;
import io.relay.routing.RelayPolicy;
import java.time.Clock;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

/** What every session of one server shares: settings, collaborators and the immutable command table. */
record SessionServices(SmtpdSettings settings, RelayPolicy policy, MessageQueue queue, MailLog mailLog,
                       Executor blockingExecutor, SslContext sslContext, CommandParser parser,
                       MessageAssembly assembly, CommandHandlers handlers, AtomicLong probes, Clock clock,
                       RelayMetrics metrics, java.util.concurrent.atomic.AtomicBoolean stopping,
                       SaslServices sasl) {

    /** The same collaborators with other settings (a reload); counters and the stop flag stay shared. */
    SessionServices withSettings(SmtpdSettings newSettings) {
        return new SessionServices(newSettings, policy, queue, mailLog, blockingExecutor, sslContext, parser,
                assembly, handlers, probes, clock, metrics, stopping, sasl);
    }
}
