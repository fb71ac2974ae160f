package io.relay.node.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The node's metric families, in one place so names, labels and buckets stay consistent.
 * Owns the {@link PrometheusRegistry} that the health server's /metrics scrapes.
 *
 * <p>Strategy: Prometheus naming conventions ({@code relay_} prefix, {@code _total} counters,
 * seconds and bytes as base units). Counters and histograms are updated by the small typed
 * methods below (cheap, lock-free, callable from an event loop); state that lives elsewhere
 * (queue depth, oldest message, cluster size) is read at scrape time through callbacks set
 * once at wiring, so nothing has to push it. Every label value set from an enum is created
 * at zero up front, so a rate() over a reason that has not happened yet is 0, not absent.
 * Next-hop and listener labels come from configuration (transports, listeners), which keeps
 * their cardinality bounded. Histograms are classic-only: the text format carries no native
 * buckets, so keeping them would only cost memory. No settings: the families are fixed.
 */
public final class RelayMetrics {

    // accept -> sent: from sub-second to Postfix's 5d maximal_queue_lifetime.
    private static final double[] DELIVERY_DELAY_BOUNDS = {
        0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 5 * 86400};
    // One fsync on a local SSD is ~0.1-2 ms; seconds means the disk is in trouble.
    private static final double[] FSYNC_BOUNDS = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

    private final PrometheusRegistry registry;
    private final Counter connections;
    private final Gauge sessionsInProgress;
    private final Counter quietProbes;
    private final Counter messagesAccepted;
    private final Counter messagesRejected;
    private final Counter recipientsAccepted;
    private final Counter authAttempts;
    private final Counter authLockouts;
    private final Counter deliveryAttempts;
    private final Histogram deliveryDelay;
    private final Counter rateLimitWaits;
    private final Counter dkimSignatures;
    private final Counter dkimUnsigned;
    private final Counter dkimFailures;
    private final Counter rateLimitWaitSeconds;
    private final Gauge breakerState;
    private final Histogram spoolFsync;
    private final Histogram copyBatch;

    private volatile Supplier<? extends Map<QueueState, ? extends Number>> queueDepth;
    private volatile Supplier<Duration> oldestMessageAge;
    private volatile IntSupplier clusterMembers;
    private volatile LongSupplier spoolFreeBytes;
    private volatile LongSupplier spoolMinFreeBytes;

    /** A fresh registry with the node's families and the JVM metrics. */
    public RelayMetrics() {
        this(new PrometheusRegistry(), true);
    }

    /**
     * The node's families in the given registry.
     *
     * @param withJvmMetrics also register the JVM families (memory, GC, threads, ...); a
     *     registry may hold them only once
     */
    public RelayMetrics(PrometheusRegistry registry, boolean withJvmMetrics) {
        this.registry = Objects.requireNonNull(registry, "registry");
        connections = Counter.builder().name("relay_smtp_connections_total")
                .help("SMTP connections by listener and result (accepted = got the greeting)")
                .labelNames("listener", "result").register(registry);
        sessionsInProgress = Gauge.builder().name("relay_smtp_sessions_in_progress")
                .help("SMTP sessions currently open, by listener")
                .labelNames("listener").register(registry);
        quietProbes = Counter.builder().name("relay_smtp_quiet_probes_total")
                .help("Connections closed before any SMTP command (load-balancer health checks)")
                .labelNames("listener").register(registry);
        messagesAccepted = Counter.builder().name("relay_messages_accepted_total")
                .help("Messages answered 250 at end of DATA, by listener")
                .labelNames("listener").register(registry);
        messagesRejected = Counter.builder().name("relay_messages_rejected_total")
                .help("Messages or recipients refused by the SMTP server, by reason")
                .labelNames("reason").register(registry);
        recipientsAccepted = Counter.builder().name("relay_recipients_accepted_total")
                .help("Recipients accepted with 250 to RCPT TO").register(registry);
        authAttempts = Counter.builder().name("relay_smtp_auth_attempts_total")
                .help("SMTP AUTH exchanges by mechanism and result (success, failure, locked, aborted, malformed)")
                .labelNames("mechanism", "result").register(registry);
        authLockouts = Counter.builder().name("relay_smtp_auth_lockouts_total")
                .help("Clients turned away for too many failed AUTHs, by listener and stage (connect: 421, auth: 454)")
                .labelNames("listener", "stage").register(registry);
        deliveryAttempts = Counter.builder().name("relay_delivery_attempts_total")
                .help("Delivery attempts per recipient, by transport, next hop and result")
                .labelNames("transport", "nexthop", "result").register(registry);
        deliveryDelay = Histogram.builder().name("relay_delivery_delay_seconds").unit(Unit.SECONDS)
                .help("Time from the 250 at end of DATA to successful delivery, by transport")
                .labelNames("transport").classicOnly().classicUpperBounds(DELIVERY_DELAY_BOUNDS)
                .withoutExemplars().register(registry);
        dkimSignatures = Counter.builder().name("relay_dkim_signatures_total")
                .help("DKIM signatures made (one per key, per message and delivery attempt), by domain and algorithm")
                .labelNames("domain", "algorithm").register(registry);
        dkimUnsigned = Counter.builder().name("relay_dkim_unsigned_total")
                .help("Messages sent by SMTP without a DKIM signature (per delivery attempt), by reason (no_key, transport_off)")
                .labelNames("reason").register(registry);
        dkimFailures = Counter.builder().name("relay_dkim_failures_total")
                .help("Deliveries held back by DKIM (per attempt), by reason (required: the From: domain requires a "
                        + "signature this node cannot make; error: signing failed)")
                .labelNames("reason").register(registry);
        rateLimitWaits = Counter.builder().name("relay_rate_limit_waits_total")
                .help("Deliveries that waited for a next hop's rate limit")
                .labelNames("nexthop").register(registry);
        rateLimitWaitSeconds = Counter.builder().name("relay_rate_limit_wait_seconds_total").unit(Unit.SECONDS)
                .help("Total time deliveries waited for a next hop's rate limit")
                .labelNames("nexthop").register(registry);
        breakerState = Gauge.builder().name("relay_circuit_breaker_state")
                .help("1 for the current circuit-breaker state of a next hop, 0 for the others")
                .labelNames("nexthop", "state").register(registry);
        spoolFsync = Histogram.builder().name("relay_spool_fsync_duration_seconds").unit(Unit.SECONDS)
                .help("Latency of one spool fsync (shared by the sessions that waited for it)")
                .classicOnly().classicUpperBounds(FSYNC_BOUNDS).withoutExemplars().register(registry);

        // _count is the copy operations sent to other members, _sum the copies they carried
        copyBatch = Histogram.builder().name("relay_queue_copy_batch_messages")
                .help("Messages' copies carried by one copy operation to another member (small bodies are batched per member)")
                .classicOnly().classicUpperBounds(1, 2, 4, 8, 16, 32, 64, 128, 256, 512).withoutExemplars().register(registry);

        GaugeWithCallback.builder().name("relay_queue_messages")
                .help("Messages in the queue, by state")
                .labelNames("state")
                .callback(cb -> {
                    var source = queueDepth;
                    if (source == null) {
                        return;
                    }
                    Map<QueueState, ? extends Number> depth = source.get();
                    for (QueueState s : QueueState.values()) {
                        Number n = depth == null ? null : depth.get(s);
                        cb.call(n == null ? 0 : n.doubleValue(), s.label());
                    }
                })
                .register(registry);
        GaugeWithCallback.builder().name("relay_queue_oldest_message_age_seconds").unit(Unit.SECONDS)
                .help("Age of the oldest message in the queue (0 when empty)")
                .callback(cb -> {
                    var source = oldestMessageAge;
                    if (source != null) {
                        Duration age = source.get();
                        cb.call(age == null ? 0 : age.toNanos() / 1e9);
                    }
                })
                .register(registry);
        GaugeWithCallback.builder().name("relay_cluster_members")
                .help("Members of the relay cluster as this node sees it")
                .callback(cb -> {
                    var source = clusterMembers;
                    if (source != null) {
                        cb.call(source.getAsInt());
                    }
                })
                .register(registry);

        GaugeWithCallback.builder().name("relay_spool_free_bytes").unit(Unit.BYTES)
                .help("Free bytes of the spool's file system as last sampled (less what was accepted since)")
                .callback(cb -> {
                    var source = spoolFreeBytes;
                    if (source != null) {
                        cb.call(source.getAsLong());
                    }
                })
                .register(registry);
        GaugeWithCallback.builder().name("relay_spool_min_free_bytes").unit(Unit.BYTES)
                .help("queue.min-free-bytes: below relay_spool_free_bytes new mail gets 452 4.3.1 (0: no check)")
                .callback(cb -> {
                    var source = spoolMinFreeBytes;
                    if (source != null) {
                        cb.call(source.getAsLong());
                    }
                })
                .register(registry);

        for (RejectReason r : RejectReason.values()) {
            messagesRejected.labelValues(r.label());
        }
        for (String mechanism : new String[] {"PLAIN", "LOGIN"}) {
            for (String result : new String[] {"success", "failure", "locked", "aborted", "malformed"}) {
                authAttempts.labelValues(mechanism, result);
            }
        }
        if (withJvmMetrics) {
            JvmMetrics.builder().register(registry);
        }
    }

    /** The registry to hand to the health server. */
    public PrometheusRegistry registry() {
        return registry;
    }

    // --- SMTP server -----------------------------------------------------------------

    /** A client got the greeting on {@code listener}; pair with {@link #connectionClosed}. */
    public void connectionOpened(String listener) {
        connections.labelValues(listener, ConnectionResult.ACCEPTED.label()).inc();
        sessionsInProgress.labelValues(listener).inc();
    }

    /** A session opened with {@link #connectionOpened} ended, however it ended. */
    public void connectionClosed(String listener) {
        sessionsInProgress.labelValues(listener).dec();
    }

    /** A connection closed before the greeting, for {@code result} (not ACCEPTED). */
    public void connectionRefused(String listener, ConnectionResult result) {
        if (result == ConnectionResult.ACCEPTED) {
            throw new IllegalArgumentException("use connectionOpened for accepted connections");
        }
        connections.labelValues(listener, result.label()).inc();
    }

    /** A connection that sent no command (maybe only a PROXY header): a health check. */
    public void quietProbe(String listener) {
        quietProbes.labelValues(listener).inc();
    }

    /** A message was answered 250 at end of DATA. */
    public void messageAccepted(String listener) {
        messagesAccepted.labelValues(listener).inc();
    }

    /** A message (or one of its recipients) was refused for {@code reason}. */
    public void messageRejected(RejectReason reason) {
        messagesRejected.labelValues(reason.label()).inc();
    }

    /** A RCPT TO was answered 250. */
    public void recipientAccepted() {
        recipientsAccepted.inc();
    }

    /**
     * One AUTH exchange ended; {@code mechanism} is one the server offers (PLAIN, LOGIN), never
     * the client's text, and {@code result} one of success, failure, locked, aborted, malformed.
     */
    public void authAttempt(String mechanism, String result) {
        authAttempts.labelValues(mechanism, result).inc();
    }

    /** A client locked out for failed AUTHs was refused at {@code stage} (connect or auth). */
    public void authLockout(String listener, String stage) {
        authLockouts.labelValues(listener, stage).inc();
    }

    // --- delivery --------------------------------------------------------------------

    /** One attempt for one recipient ended with {@code result}; {@code nexthop} as NextHop.text(). */
    public void deliveryAttempt(String transport, String nexthop, DeliveryResult result) {
        deliveryAttempts.labelValues(transport, nexthop, result.label()).inc();
    }

    /** A recipient was delivered {@code sinceAccept} after its message got 250. */
    public void deliveryDelay(String transport, Duration sinceAccept) {
        deliveryDelay.labelValues(transport).observe(Math.max(0, sinceAccept.toNanos()) / 1e9);
    }

    /** A message was signed for {@code domain} with a key of {@code algorithm} (its a= tag). */
    public void dkimSignature(String domain, String algorithm) {
        dkimSignatures.labelValues(domain, algorithm).inc();
    }

    /** A message went out unsigned, for {@code reason} (no_key, transport_off). */
    public void dkimUnsigned(String reason) {
        dkimUnsigned.labelValues(reason).inc();
    }

    /** A delivery was held back by DKIM, for {@code reason} (required, error). */
    public void dkimFailure(String reason) {
        dkimFailures.labelValues(reason).inc();
    }

    /** A delivery to {@code nexthop} waited {@code waited} for the rate limit. */
    public void rateLimitWait(String nexthop, Duration waited) {
        rateLimitWaits.labelValues(nexthop).inc();
        rateLimitWaitSeconds.labelValues(nexthop).inc(Math.max(0, waited.toNanos()) / 1e9);
    }

    /** The circuit breaker of {@code nexthop} is now in {@code state} (call on each transition). */
    public void circuitBreakerState(String nexthop, BreakerState state) {
        for (BreakerState s : BreakerState.values()) {
            breakerState.labelValues(nexthop, s.label()).set(s == state ? 1 : 0);
        }
    }

    // --- queue and cluster -----------------------------------------------------------

    /** One spool fsync took {@code nanos}. */
    public void spoolFsync(long nanos) {
        spoolFsync.observe(Math.max(0, nanos) / 1e9);
    }

    /** One copy operation to another member carried this many messages' copies. */
    public void copyBatch(int messages) {
        copyBatch.observe(messages);
    }

    /**
     * Where scrapes read the queue depth per state (states missing from the map count 0).
     * Called at scrape time on the health worker thread, so it may ask Hazelcast briefly.
     */
    public void queueDepth(Supplier<? extends Map<QueueState, ? extends Number>> source) {
        this.queueDepth = Objects.requireNonNull(source, "source");
    }

    /** Where scrapes read the age of the oldest queued message (null or zero when empty). */
    public void oldestMessageAge(Supplier<Duration> source) {
        this.oldestMessageAge = Objects.requireNonNull(source, "source");
    }

    /** Where scrapes read the spool file system's free bytes and the minimum ({@code queue.min-free-bytes}). */
    public void spoolSpace(LongSupplier freeBytes, LongSupplier minFreeBytes) {
        this.spoolFreeBytes = Objects.requireNonNull(freeBytes, "freeBytes");
        this.spoolMinFreeBytes = Objects.requireNonNull(minFreeBytes, "minFreeBytes");
    }

    /** Where scrapes read the number of cluster members this node sees. */
    public void clusterMembers(IntSupplier source) {
        this.clusterMembers = Objects.requireNonNull(source, "source");
    }
}
