package io.relay.node.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.relay.node.testing.Tools;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RelayMetricsTest {

    private static final List<String> FAMILIES = List.of(
            "relay_smtp_connections_total", "relay_smtp_sessions_in_progress", "relay_smtp_quiet_probes_total",
            "relay_messages_accepted_total", "relay_messages_rejected_total", "relay_recipients_accepted_total",
            "relay_delivery_attempts_total", "relay_delivery_delay_seconds", "relay_queue_messages",
            "relay_queue_oldest_message_age_seconds", "relay_rate_limit_waits_total",
            "relay_rate_limit_wait_seconds_total", "relay_circuit_breaker_state", "relay_cluster_members",
            "relay_spool_fsync_duration_seconds", "relay_spool_free_bytes", "relay_spool_min_free_bytes");

    /** Every family with at least one sample, as the wired node would have them. */
    private static RelayMetrics populated() {
        RelayMetrics m = new RelayMetrics();
        m.connectionOpened("smtp");
        m.connectionOpened("submission");
        m.connectionClosed("submission");
        m.connectionRefused("smtp", ConnectionResult.PROXY_UNTRUSTED);
        m.quietProbe("smtp");
        m.messageAccepted("smtp");
        m.messageRejected(RejectReason.RELAY_DENIED);
        m.messageRejected(RejectReason.BARE_NEWLINE);
        m.recipientAccepted();
        m.deliveryAttempt("smtp", "[email-smtp.eu-west-1.amazonaws.com]:587", DeliveryResult.DELIVERED);
        m.deliveryAttempt("smtp", "[email-smtp.eu-west-1.amazonaws.com]:587", DeliveryResult.DEFERRED);
        m.deliveryDelay("smtp", Duration.ofMillis(1500));
        m.rateLimitWait("[email-smtp.eu-west-1.amazonaws.com]:587", Duration.ofMillis(700));
        m.circuitBreakerState("[email-smtp.eu-west-1.amazonaws.com]:587", BreakerState.HALF_OPEN);
        m.spoolFsync(TimeUnit.MICROSECONDS.toNanos(800));
        Map<QueueState, Integer> depth = new EnumMap<>(QueueState.class);
        depth.put(QueueState.ACTIVE, 3);
        depth.put(QueueState.DEFERRED, 12);
        m.queueDepth(() -> depth);
        m.oldestMessageAge(() -> Duration.ofSeconds(90));
        m.clusterMembers(() -> 3);
        m.spoolSpace(() -> 5_000_000L, () -> 1_000_000L);
        return m;
    }

    private static String text(PrometheusRegistry registry) throws IOException {
        // The same writer HealthServer picks for a scraper without an OpenMetrics Accept header.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ExpositionFormats.init().getPrometheusTextFormatWriter().write(out, registry.scrape());
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void promtoolAcceptsTheOutputWithEveryFamilyAndTheJvmMetrics() throws Exception {
        Tools.require(Tools.PROMTOOL);
        String body = text(populated().registry());
        for (String family : FAMILIES) {
            assertTrue(body.contains("# TYPE " + family.replaceFirst("_total$", "") + " ")
                    || body.contains("# TYPE " + family + " "), "family missing: " + family);
        }
        assertTrue(body.contains("jvm_memory_used_bytes"), "JVM metrics missing");
        Process p = new ProcessBuilder(Tools.PROMTOOL, "check", "metrics").redirectErrorStream(true).start();
        try {
            try (OutputStream stdin = p.getOutputStream()) {
                stdin.write(body.getBytes(StandardCharsets.UTF_8));
            }
            AtomicReference<String> output = new AtomicReference<>("");
            Thread reader = new Thread(() -> {
                try {
                    output.set(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
                } catch (IOException ignored) {
                    // promtool died; its exit status is asserted below
                }
            });
            reader.start();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool did not finish");
            reader.join(5000);
            assertEquals(0, p.exitValue(), "promtool check metrics:\n" + output.get());
            assertEquals("", output.get().trim(), "promtool lint findings");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void samplesCarryTheirLabels() throws Exception {
        String body = text(populated().registry());
        assertTrue(body.contains("relay_smtp_connections_total{listener=\"smtp\",result=\"accepted\"} 1.0"), body);
        assertTrue(body.contains("relay_smtp_connections_total{listener=\"smtp\",result=\"proxy_untrusted\"} 1.0"));
        assertTrue(body.contains("relay_smtp_sessions_in_progress{listener=\"smtp\"} 1.0"));
        assertTrue(body.contains("relay_smtp_sessions_in_progress{listener=\"submission\"} 0.0"));
        assertTrue(body.contains("relay_delivery_attempts_total{nexthop=\"[email-smtp.eu-west-1.amazonaws.com]:587\","
                + "result=\"deferred\",transport=\"smtp\"} 1.0"), body);
        assertTrue(body.contains("relay_delivery_delay_seconds_bucket{transport=\"smtp\",le=\"1.0\"} 0"));
        assertTrue(body.contains("relay_delivery_delay_seconds_bucket{transport=\"smtp\",le=\"2.5\"} 1"));
        assertTrue(body.contains("relay_spool_fsync_duration_seconds_bucket{le=\"0.001\"} 1"), body);
        assertTrue(body.contains("relay_rate_limit_wait_seconds_total{nexthop=\"[email-smtp.eu-west-1.amazonaws.com]:587\"} 0.7"));
    }

    @Test
    void everyRejectReasonIsExposedAtZeroBeforeItHappens() throws Exception {
        String body = text(new RelayMetrics(new PrometheusRegistry(), false).registry());
        for (RejectReason r : RejectReason.values()) {
            assertTrue(body.contains("relay_messages_rejected_total{reason=\"" + r.label() + "\"} 0.0"), r.label());
        }
    }

    @Test
    void onlyTheCurrentBreakerStateIsOne() throws Exception {
        RelayMetrics m = new RelayMetrics(new PrometheusRegistry(), false);
        m.circuitBreakerState("hop", BreakerState.OPEN);
        m.circuitBreakerState("hop", BreakerState.CLOSED);
        String body = text(m.registry());
        assertTrue(body.contains("relay_circuit_breaker_state{nexthop=\"hop\",state=\"closed\"} 1.0"), body);
        assertTrue(body.contains("relay_circuit_breaker_state{nexthop=\"hop\",state=\"open\"} 0.0"));
        assertTrue(body.contains("relay_circuit_breaker_state{nexthop=\"hop\",state=\"half_open\"} 0.0"));
    }

    @Test
    void gaugeCallbacksAreReadAtEachScrape() throws Exception {
        RelayMetrics m = new RelayMetrics(new PrometheusRegistry(), false);
        String before = text(m.registry());
        assertFalse(before.contains("relay_cluster_members "), "no sample before a source is wired");
        AtomicInteger members = new AtomicInteger(1);
        Map<QueueState, Long> depth = new EnumMap<>(QueueState.class);
        depth.put(QueueState.INCOMING, 2L);
        m.clusterMembers(members::get);
        m.queueDepth(() -> depth);
        m.oldestMessageAge(() -> null);
        m.spoolSpace(() -> 5_000_000L, () -> 1_000_000L);
        String first = text(m.registry());
        assertTrue(first.contains("relay_cluster_members 1.0"), first);
        assertTrue(first.contains("relay_spool_free_bytes 5000000.0"), first);
        assertTrue(first.contains("relay_spool_min_free_bytes 1000000.0"), first);
        assertTrue(first.contains("relay_queue_messages{state=\"incoming\"} 2.0"));
        assertTrue(first.contains("relay_queue_messages{state=\"hold\"} 0.0"), "missing states count 0");
        assertTrue(first.contains("relay_queue_oldest_message_age_seconds 0.0"), "empty queue is age 0");
        members.set(3);
        depth.put(QueueState.INCOMING, 5L);
        String second = text(m.registry());
        assertTrue(second.contains("relay_cluster_members 3.0"));
        assertTrue(second.contains("relay_queue_messages{state=\"incoming\"} 5.0"));
    }

    @Test
    void acceptedIsNotARefusal() {
        RelayMetrics m = new RelayMetrics(new PrometheusRegistry(), false);
        assertThrows(IllegalArgumentException.class, () -> m.connectionRefused("smtp", ConnectionResult.ACCEPTED));
    }
}
