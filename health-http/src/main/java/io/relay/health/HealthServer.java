package io.relay.health;

import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The node's health and metrics endpoint for load balancers and Prometheus, on its own
 * address ({@code health.listen}) so probes never touch the SMTP listeners or the mail log.
 *
 * <p>Serves {@code GET|HEAD /healthz} (liveness: 200 unless a liveness check fails),
 * {@code /readyz} (200 only while every {@link ReadinessCheck} passes, else 503; both with a
 * small JSON body naming each check) and {@code /metrics} (the registry in Prometheus text
 * format 0.0.4, or OpenMetrics when the Accept header asks for it). Other paths answer 404,
 * other methods 405; no request body is accepted (413).
 *
 * <p>Strategy: an {@link HttpListener}: one event-loop thread does the HTTP codec; the endpoint
 * handler runs on a small separate worker group, because checks and gauge callbacks may block briefly (Hazelcast,
 * queue statistics) and must never stall an event loop. Checks run concurrently with a
 * deadline ({@code checkTimeout}, default 1.5 s): one that has not answered by then is
 * reported failed ("check timed out"), so a hung dependency yields a prompt 503, not a hung probe. Connections are kept alive (load
 * balancers and Prometheus reuse them) and closed after {@link #IDLE_TIMEOUT_SECONDS} idle.
 * Requests are logged only to logger {@code health.access} at DEBUG, off unless enabled.
 */
public final class HealthServer implements AutoCloseable {

    // Named pipeline stages, in order.
    static final String STAGE_IDLE = "idle-timeout";
    static final String STAGE_CODEC = "http-codec";
    static final String STAGE_AGGREGATOR = "no-body";
    static final String STAGE_ENDPOINTS = "endpoints";

    static final int IDLE_TIMEOUT_SECONDS = 60;
    // A probe's request line and headers are short; anything bigger is not a probe.
    private static final int MAX_INITIAL_LINE = 4096;
    private static final int MAX_HEADER_SIZE = 8192;
    // Well under the 5 s default probe timeout of AWS target groups and haproxy's 2 s "timeout check".
    static final Duration DEFAULT_CHECK_TIMEOUT = Duration.ofMillis(1500);

    private final InetSocketAddress bindAddress;
    private final List<ReadinessCheck> readinessChecks;
    private final List<ReadinessCheck> livenessChecks;
    private final PrometheusRegistry registry;
    private final Duration checkTimeout;
    private CheckRunner checkRunner;
    private HttpListener listener;

    /**
     * @param bindAddress the {@code health.listen} address; port 0 picks a free port
     * @param readinessChecks all must pass for /readyz to answer 200
     * @param livenessChecks all must pass for /healthz to answer 200 (may be empty)
     * @param registry the registry /metrics scrapes
     */
    public HealthServer(InetSocketAddress bindAddress, List<ReadinessCheck> readinessChecks,
            List<ReadinessCheck> livenessChecks, PrometheusRegistry registry) {
        this(bindAddress, readinessChecks, livenessChecks, registry, DEFAULT_CHECK_TIMEOUT);
    }

    /** As above, with the time after which a check that has not answered counts as failed. */
    public HealthServer(InetSocketAddress bindAddress, List<ReadinessCheck> readinessChecks,
            List<ReadinessCheck> livenessChecks, PrometheusRegistry registry, Duration checkTimeout) {
        this.bindAddress = Objects.requireNonNull(bindAddress, "bindAddress");
        this.readinessChecks = List.copyOf(readinessChecks);
        this.livenessChecks = List.copyOf(livenessChecks);
        this.registry = Objects.requireNonNull(registry, "registry");
        this.checkTimeout = Objects.requireNonNull(checkTimeout, "checkTimeout");
    }

    /** Binds and starts serving; throws if the address cannot be bound. */
    public synchronized void start() {
        if (listener != null && listener.listening()) {
            throw new IllegalStateException("health server already started");
        }
        CheckRunner checks = new CheckRunner(checkTimeout);
        checkRunner = checks;
        HealthEndpoints endpoints = new HealthEndpoints(readinessChecks, livenessChecks, registry, checks);
        listener = new HttpListener("health", "health checks", bindAddress, (p, workers) -> {
            p.addLast(STAGE_IDLE, new ReadTimeoutHandler(IDLE_TIMEOUT_SECONDS));
            p.addLast(STAGE_CODEC, new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, 8192));
            // Max content 0: any request body is answered 413 by the aggregator.
            p.addLast(STAGE_AGGREGATOR, new HttpObjectAggregator(0));
            p.addLast(workers, STAGE_ENDPOINTS, new HealthRequestHandler(endpoints));
        });
        try {
            listener.start();
        } catch (RuntimeException e) {
            closeChecks();
            throw e;
        }
    }

    /** The bound address (with the real port when 0 was asked); only valid after {@link #start()}. */
    public synchronized InetSocketAddress boundAddress() {
        if (listener == null || !listener.listening()) {
            throw new IllegalStateException("health server not started");
        }
        return listener.boundAddress();
    }

    /** Stops listening, closes open connections and stops the threads; idempotent. */
    @Override
    public synchronized void close() {
        if (listener != null) {
            listener.close();
        }
        closeChecks();
    }

    private void closeChecks() {
        if (checkRunner != null) {
            checkRunner.close();
            checkRunner = null;
        }
    }
}
