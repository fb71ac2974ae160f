package io.relay.health;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** What each path answers, independent of the HTTP plumbing around it. */
final class HealthEndpoints {

    static final String JSON = "application/json; charset=utf-8";

    /** A response before HTTP framing: status, content type and body bytes. */
    record Reply(HttpResponseStatus status, String contentType, ByteBuf body) {
    }

    private final List<ReadinessCheck> readiness;
    private final List<ReadinessCheck> liveness;
    private final PrometheusRegistry registry;
    private final ExpositionFormats formats;
    private final CheckRunner runner;

    HealthEndpoints(List<ReadinessCheck> readiness, List<ReadinessCheck> liveness, PrometheusRegistry registry,
            CheckRunner runner) {
        this.runner = runner;
        this.readiness = readiness;
        this.liveness = liveness;
        this.registry = registry;
        this.formats = ExpositionFormats.init();
    }

    static boolean knows(String path) {
        return path.equals("/healthz") || path.equals("/readyz") || path.equals("/metrics");
    }

    Reply answer(String path, String accept, ByteBufAllocator alloc) throws IOException {
        return switch (path) {
            case "/healthz" -> checks(liveness, "ok", "failing", alloc);
            case "/readyz" -> checks(readiness, "ready", "not ready", alloc);
            case "/metrics" -> metrics(accept, alloc);
            default -> throw new IllegalArgumentException(path);
        };
    }

    private Reply checks(List<ReadinessCheck> checks, String okStatus, String failStatus, ByteBufAllocator alloc) {
        HealthReport report = runner.evaluate(checks);
        byte[] json = report.toJson(okStatus, failStatus).getBytes(StandardCharsets.UTF_8);
        return new Reply(report.ok() ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, JSON,
                alloc.buffer(json.length).writeBytes(json));
    }

    private Reply metrics(String accept, ByteBufAllocator alloc) throws IOException {
        ExpositionFormatWriter writer = formats.findWriter(accept);
        if (!writer.isAvailable()) {
            // The protobuf format needs an optional jar we do not ship; text serves every scraper.
            writer = formats.getPrometheusTextFormatWriter();
        }
        ByteBuf buf = alloc.buffer();
        boolean done = false;
        try (ByteBufOutputStream out = new ByteBufOutputStream(buf)) {
            writer.write(out, registry.scrape(), EscapingScheme.fromAcceptHeader(accept));
            done = true;
        } finally {
            if (!done) {
                buf.release();
            }
        }
        return new Reply(HttpResponseStatus.OK, writer.getContentType(), buf);
    }
}
