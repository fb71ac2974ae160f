package io.relay.node.delivery;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.relay.node.log.MailLog;
import io.relay.node.metrics.RelayMetrics;
import io.relay.queue.DeliveryAttempt;
import io.relay.queue.MessageQueue;
import io.relay.queue.Envelope;
import io.relay.queue.QueueId;
import io.relay.queue.QueuedMessage;
import io.relay.routing.Agent;
import io.relay.routing.Credentials;
import io.relay.routing.NextHop;
import io.relay.routing.Route;
import io.relay.routing.TlsLevel;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;

/** Messages and routes for the delivery tests. */
final class Fixtures {
    private static final AtomicLong IDS = new AtomicLong(0x3F2A9C0000L);

    private Fixtures() {
    }

    static QueuedMessage message(String sender, List<String> rcpts, String body) {
        String content = "From: <" + sender + ">\r\nTo: <" + rcpts.get(0) + ">\r\nSubject: test\r\n"
                + "Message-ID: <" + IDS.get() + "@test>\r\n\r\n" + body;
        Envelope env = new Envelope(sender, rcpts, "localhost", "127.0.0.1", "client.test", "ESMTP", false, false,
                System.currentTimeMillis());
        return new QueuedMessage(new QueueId(Long.toHexString(IDS.incrementAndGet()).toUpperCase()), env,
                content.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * A dispatcher without lane limits, breakers or metrics worth reading: for the tests of
     * what a transport does.
     */
    static Dispatcher dispatcher(BiFunction<String, String, Route> router, SmtpClient client, MessageQueue queue,
                                 MailLog log) {
        return dispatcher(router, client, NextHopLimiter.unlimited(), Integer.MAX_VALUE, queue, log);
    }

    /** A dispatcher with the given lane limits. */
    static Dispatcher dispatcher(BiFunction<String, String, Route> router, SmtpClient client, NextHopLimiter limiter,
                                 int defaultConcurrency, MessageQueue queue, MailLog log) {
        return new Dispatcher(router, client, limiter, defaultConcurrency, NextHopGuard.inactive(), queue,
                new DsnBuilder("relay.test"), log, "relay.test", Clock.systemUTC(), unreadMetrics(), DkimStep.OFF);
    }

    /** Metrics recorded into a registry nobody reads (no JVM families: a registry may hold them once). */
    static RelayMetrics unreadMetrics() {
        return new RelayMetrics(new PrometheusRegistry(), false);
    }

    static DeliveryAttempt attempt(QueuedMessage m) {
        return new DeliveryAttempt(m, m.envelope().recipients(), 1);
    }

    static Route smtp(int port, TlsLevel tls, String caFile, Credentials cred, boolean reuse, NextHop... fallbacks) {
        return smtpTo(new NextHop("127.0.0.1", port, false), tls, caFile, cred, reuse, fallbacks);
    }

    static Route smtpTo(NextHop hop, TlsLevel tls, String caFile, Credentials cred, boolean reuse, NextHop... fallbacks) {
        return new Route("smtp", new Agent.Smtp(hop), tls, caFile, cred, List.of(fallbacks),
                Route.Limits.NONE, reuse, "relayhost");
    }

    static Route local(Agent agent, String transport) {
        return new Route(transport, agent, TlsLevel.NONE, null, null, List.of(), Route.Limits.NONE,
                false, "transport_maps: test");
    }
}
