package io.relay.health;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HealthServerTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private HealthServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private void start(List<ReadinessCheck> readiness, List<ReadinessCheck> liveness) {
        server = new HealthServer(new InetSocketAddress("127.0.0.1", 0), readiness, liveness, registry);
        server.start();
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.boundAddress().getPort() + path);
    }

    private HttpResponse<String> get(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT).GET();
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> send(String method, String path, HttpRequest.BodyPublisher body) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT).method(method, body).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void readyzFlipsBetween200And503AsACheckFlipsAndNamesEveryCheck() throws Exception {
        AtomicBoolean draining = new AtomicBoolean(false);
        start(List.of(
                ReadinessCheck.of("draining", () -> draining.get()
                        ? ReadinessCheck.Result.failing("SIGTERM received") : ReadinessCheck.Result.passing()),
                ReadinessCheck.of("smtp-listener", ReadinessCheck.Result::passing)), List.of());

        HttpResponse<String> ready = get("/readyz");
        assertEquals(200, ready.statusCode());
        assertTrue(ready.headers().firstValue("content-type").orElse("").startsWith("application/json"));
        JsonNode body = json.readTree(ready.body());
        assertEquals("ready", body.get("status").asText());
        assertTrue(body.at("/checks/draining/ok").asBoolean());
        assertTrue(body.at("/checks/smtp-listener/ok").asBoolean());

        draining.set(true);
        HttpResponse<String> notReady = get("/readyz");
        assertEquals(503, notReady.statusCode());
        body = json.readTree(notReady.body());
        assertEquals("not ready", body.get("status").asText());
        assertFalse(body.at("/checks/draining/ok").asBoolean(true));
        assertEquals("SIGTERM received", body.at("/checks/draining/reason").asText());
        assertTrue(body.at("/checks/smtp-listener/ok").asBoolean());

        draining.set(false);
        assertEquals(200, get("/readyz").statusCode());
    }

    @Test
    void aThrowingCheckIsNotReadyAndItsMessageIsNotShown() throws Exception {
        start(List.of(ReadinessCheck.of("cluster", () -> {
            throw new IllegalStateException("secret-host.internal:5701 \"quoted\"");
        })), List.of());
        HttpResponse<String> r = get("/readyz");
        assertEquals(503, r.statusCode());
        JsonNode body = json.readTree(r.body());
        assertEquals("check threw IllegalStateException", body.at("/checks/cluster/reason").asText());
        assertFalse(r.body().contains("secret-host"));
    }

    @Test
    void reasonsWithQuotesAndControlCharactersStayValidJson() throws Exception {
        String reason = "queue \"full\"\\ 1000/1000\n\t\u0001";
        start(List.of(ReadinessCheck.of("queue", () -> ReadinessCheck.Result.failing(reason))), List.of());
        JsonNode body = json.readTree(get("/readyz").body());
        assertEquals(reason, body.at("/checks/queue/reason").asText());
    }

    @Test
    void healthzIsOkWithNoLivenessChecksAnd503WhenOneFails() throws Exception {
        AtomicBoolean alive = new AtomicBoolean(true);
        start(List.of(ReadinessCheck.of("never", () -> ReadinessCheck.Result.failing("not yet"))),
                List.of(ReadinessCheck.of("event-loops", () -> alive.get()
                        ? ReadinessCheck.Result.passing() : ReadinessCheck.Result.failing("stalled"))));
        HttpResponse<String> r = get("/healthz");
        assertEquals(200, r.statusCode(), "liveness ignores readiness");
        JsonNode body = json.readTree(r.body());
        assertEquals("ok", body.get("status").asText());
        assertTrue(body.at("/checks/event-loops/ok").asBoolean());
        alive.set(false);
        assertEquals(503, get("/healthz").statusCode());
    }

    @Test
    void healthzWithoutChecksHasAnEmptyChecksObject() throws Exception {
        start(List.of(), List.of());
        HttpResponse<String> r = get("/healthz");
        assertEquals(200, r.statusCode());
        assertEquals("{\"status\":\"ok\",\"checks\":{}}", r.body());
    }

    @Test
    void unknownPathsAre404AndOtherMethods405() throws Exception {
        start(List.of(), List.of());
        assertEquals(404, get("/").statusCode());
        assertEquals(404, get("/readyz/extra").statusCode());
        HttpResponse<String> post = send("POST", "/readyz", HttpRequest.BodyPublishers.noBody());
        assertEquals(405, post.statusCode());
        assertEquals("GET, HEAD", post.headers().firstValue("allow").orElse(""));
        assertEquals(405, send("DELETE", "/metrics", HttpRequest.BodyPublishers.noBody()).statusCode());
        assertEquals(200, get("/readyz?verbose=1").statusCode(), "a query string does not change the path");
    }

    @Test
    void aRequestBodyIsRefused() throws Exception {
        start(List.of(), List.of());
        HttpResponse<String> r = send("GET", "/healthz", HttpRequest.BodyPublishers.ofString("x".repeat(100)));
        assertEquals(413, r.statusCode());
    }

    @Test
    void headAnswersTheHeadersOfGetWithoutABody() throws Exception {
        Counter.builder().name("probe_test_total").help("test").register(registry).inc();
        start(List.of(ReadinessCheck.of("a", ReadinessCheck.Result::passing)), List.of());
        for (String path : List.of("/readyz", "/metrics")) {
            HttpResponse<String> g = get(path);
            HttpResponse<String> h = send("HEAD", path, HttpRequest.BodyPublishers.noBody());
            assertEquals(200, h.statusCode());
            assertEquals("", h.body());
            assertEquals(String.valueOf(g.body().getBytes(StandardCharsets.UTF_8).length),
                    h.headers().firstValue("content-length").orElse("missing"), path);
            assertEquals(g.headers().firstValue("content-type"), h.headers().firstValue("content-type"));
        }
    }

    @Test
    void metricsAreTextFormat004ByDefaultAndOpenMetricsWhenAsked() throws Exception {
        Counter.builder().name("relay_probe_test_total").help("a test counter").labelNames("listener")
                .register(registry).labelValues("smtp").inc(3);
        start(List.of(), List.of());

        HttpResponse<String> text = get("/metrics");
        assertEquals(200, text.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", text.headers().firstValue("content-type").orElse(""));
        assertTrue(text.body().contains("relay_probe_test_total{listener=\"smtp\"} 3.0"), text.body());
        assertFalse(text.body().contains("# EOF"));

        HttpResponse<String> om = get("/metrics", "Accept",
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
        assertEquals(200, om.statusCode());
        assertTrue(om.headers().firstValue("content-type").orElse("").startsWith("application/openmetrics-text"),
                om.headers().toString());
        assertTrue(om.body().endsWith("# EOF\n"), om.body());
        assertTrue(om.body().contains("relay_probe_test_total{listener=\"smtp\"} 3.0"), om.body());
    }

    @Test
    void keepsTheConnectionAliveForSeveralRequests() throws Exception {
        start(List.of(), List.of());
        try (Socket s = new Socket()) {
            s.connect(server.boundAddress(), 5000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            for (int i = 0; i < 3; i++) {
                out.write("GET /healthz HTTP/1.1\r\nHost: probe\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String response = readOneResponse(in);
                assertTrue(response.startsWith("HTTP/1.1 200 "), response);
                assertFalse(response.toLowerCase().contains("connection: close"), response);
            }
            out.write("GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertTrue(readOneResponse(in).startsWith("HTTP/1.1 200 "));
            assertEquals(-1, in.read(), "closed after Connection: close");
        }
    }

    @Test
    void oversizedHeadersAreRefused() throws Exception {
        start(List.of(), List.of());
        try (Socket s = new Socket()) {
            s.connect(server.boundAddress(), 5000);
            s.setSoTimeout(5000);
            String big = "GET /healthz HTTP/1.1\r\nHost: probe\r\nX-Junk: " + "a".repeat(20_000) + "\r\n\r\n";
            s.getOutputStream().write(big.getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            String response = readOneResponse(s.getInputStream());
            assertTrue(response.startsWith("HTTP/1.1 4"), response);
        }
    }

    @Test
    void aHangingCheckTimesOutAsNotReadyAndLivenessStillAnswers() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        server = new HealthServer(new InetSocketAddress("127.0.0.1", 0), List.of(
                ReadinessCheck.of("cluster", () -> {
                    try {
                        release.await(20, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return ReadinessCheck.Result.passing();
                }),
                ReadinessCheck.of("smtp-listener", ReadinessCheck.Result::passing)),
                List.of(), registry, Duration.ofMillis(300));
        server.start();
        try {
            long t0 = System.nanoTime();
            HttpResponse<String> r = get("/readyz");
            assertEquals(503, r.statusCode());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(4), "answered promptly");
            JsonNode body = json.readTree(r.body());
            assertEquals("check timed out after 300 ms", body.at("/checks/cluster/reason").asText());
            assertTrue(body.at("/checks/smtp-listener/ok").asBoolean());
            assertEquals(200, get("/healthz").statusCode());
        } finally {
            release.countDown();
        }
    }

    @Test
    void aBlockingCheckDoesNotStallOtherProbes() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch entered = new CountDownLatch(1);
        server = new HealthServer(new InetSocketAddress("127.0.0.1", 0), List.of(ReadinessCheck.of("slow", () -> {
            entered.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return ReadinessCheck.Result.passing();
        })), List.of(), registry, Duration.ofSeconds(12));
        server.start();
        try {
            CompletableFuture<HttpResponse<String>> slow = http.sendAsync(
                    HttpRequest.newBuilder(uri("/readyz")).timeout(Duration.ofSeconds(15)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(entered.await(5, TimeUnit.SECONDS));
            // A fresh connection while the first is stuck in its check: the event loop still serves it.
            HttpClient other = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
            HttpResponse<String> quick = other.send(HttpRequest.newBuilder(uri("/healthz")).timeout(TIMEOUT).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, quick.statusCode());
            release.countDown();
            assertEquals(200, slow.get(10, TimeUnit.SECONDS).statusCode());
        } finally {
            release.countDown();
        }
    }

    @Test
    void aFailingCollectorAnswers500AndKeepsServing() throws Exception {
        GaugeWithCallback.builder().name("relay_broken").help("throws at scrape")
                .callback(cb -> {
                    throw new IllegalStateException("boom");
                }).register(registry);
        start(List.of(), List.of());
        assertEquals(500, get("/metrics").statusCode());
        assertEquals(200, get("/healthz").statusCode());
    }

    @Test
    void aBusyAddressFailsStartWithTheAddressInTheMessage() throws Exception {
        start(List.of(), List.of());
        HealthServer second = new HealthServer(server.boundAddress(), List.of(), List.of(), registry);
        java.io.UncheckedIOException e = org.junit.jupiter.api.Assertions.assertThrows(
                java.io.UncheckedIOException.class, second::start);
        assertTrue(e.getMessage().contains(String.valueOf(server.boundAddress().getPort())), e.getMessage());
        second.close();
    }

    @Test
    void closeFreesThePort() throws Exception {
        start(List.of(), List.of());
        InetSocketAddress bound = server.boundAddress();
        server.close();
        server = new HealthServer(bound, List.of(), List.of(), registry);
        server.start();
        assertEquals(bound.getPort(), server.boundAddress().getPort());
    }

    @Test
    void promtoolAcceptsTheMetricsOutput() throws Exception {
        Path promtool = Path.of("/usr/bin/promtool");
        boolean present = Files.isExecutable(promtool);
        if (!present && Boolean.getBoolean("relay.requireTools")) {
            fail("required tool missing: " + promtool);
        }
        assumeTrue(present, "skipped: " + promtool + " is not installed");
        Counter.builder().name("relay_probe_test_total").help("a test counter").labelNames("listener")
                .register(registry).labelValues("smtp").inc();
        start(List.of(), List.of());
        String body = get("/metrics").body();
        Process p = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true).start();
        try {
            try (OutputStream in = p.getOutputStream()) {
                in.write(body.getBytes(StandardCharsets.UTF_8));
            }
            AtomicReference<String> output = new AtomicReference<>("");
            Thread reader = new Thread(() -> {
                try {
                    output.set(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
                } catch (java.io.IOException ignored) {
                    // the process died; the exit code says enough
                }
            });
            reader.start();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool did not finish");
            reader.join(5000);
            assertEquals(0, p.exitValue(), output.get());
        } finally {
            p.destroyForcibly();
        }
    }

    /** Reads status line, headers and a Content-Length body; bounded by the socket timeout. */
    private static String readOneResponse(InputStream in) throws Exception {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.write(b);
            matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
            if (head.size() > 65536) {
                fail("response head too long");
            }
        }
        String h = head.toString(StandardCharsets.US_ASCII);
        int length = 0;
        for (String line : h.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        byte[] body = in.readNBytes(length);
        return h + new String(body, StandardCharsets.UTF_8);
    }
}
