package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.LoadClient;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * /metrics of a node in its own JVM after real traffic: LoadClient messages delivered to
 * smtp-sink, a relay-denied and an oversize message from swaks, a bare TCP probe and a
 * PROXY-header-only probe. The scrape passes {@code promtool check metrics}, every counter
 * has the value the traffic implies, the probes are counted but leave no mail-log line, and
 * {@code Accept: application/openmetrics-text} gets OpenMetrics.
 */
class MetricsEndToEndTest {
    private static final int ACCEPTED = 5;
    /** NodeProcess's own check that SMTP listens (connect, close), then our bare TCP and PROXY-only probes. */
    private static final int PROBES = 3;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void countersAfterRealTrafficPassPromtool(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SWAKS, Tools.SMTP_SINK, Tools.PROMTOOL);
        try (TaggedSink sink = TaggedSink.started(dir)) {
            int smtp = Ports.free();
            Path nodeDir = dir.resolve("node");
            NodeYaml plumbing = NodeYaml.in(nodeDir, smtp);
            int health = plumbing.health();
            // PROXY protocol optional from loopback: swaks can present an outside client
            // (192.0.2.10, not in mynetworks) and a load balancer can probe with a bare header.
            String yaml = plumbing.with(RelayYaml.relayingTo(sink.port()).hostname("relay-under-test.test")
                    .set("smtpd.message-size-limit", 20000).proxyProtocol(false).text());
            try (NodeProcess node = NodeProcess.start(nodeDir, yaml, smtp)) {
                String listener = "listener=\"127.0.0.1:" + smtp + "\"";
                String nexthop = "nexthop=\"[127.0.0.1]:" + sink.port() + "\"";

                LoadClient load = new LoadClient("127.0.0.1", smtp);
                load.run("metrics", ACCEPTED, 1, ACCEPTED, 500, Duration.ofSeconds(60));
                assertEquals(ACCEPTED, load.acknowledged().size(), "refused: " + load.refused());

                String denied = swaks(smtp, "--to", "someone@example.org", "--proxy-version", "1",
                        "--proxy-family", "TCP4", "--proxy-source", "192.0.2.10", "--proxy-source-port", "40000",
                        "--proxy-dest", "127.0.0.1", "--proxy-dest-port", "25");
                assertTrue(denied.contains("554 5.7.1"), denied);
                String oversize = swaks(smtp, "--to", "big@example.org", "--body", ("x".repeat(70) + "\n").repeat(450));
                assertTrue(oversize.contains("552 5.3.4"), oversize);

                probe(smtp, new byte[0]);
                probe(smtp, "PROXY TCP4 192.0.2.20 127.0.0.1 40001 25\r\n".getBytes(StandardCharsets.US_ASCII));

                String text = awaitScrape(health, body ->
                        value(body, "relay_delivery_attempts_total", "transport=\"smtp\"", nexthop,
                                "result=\"delivered\"") == ACCEPTED
                        && value(body, "relay_smtp_sessions_in_progress", listener) == 0
                        && value(body, "relay_smtp_quiet_probes_total", listener) == PROBES
                        && value(body, "relay_queue_messages", "state=\"active\"") == 0);

                Path scrape = dir.resolve("scrape.prom");
                Files.writeString(scrape, text);
                String lint = promtool(scrape);
                assertTrue(lint.startsWith("exit 0"), "promtool check metrics: " + lint);

                assertEquals(ACCEPTED, value(text, "relay_messages_accepted_total", listener), text);
                assertEquals(ACCEPTED + 1, value(text, "relay_recipients_accepted_total"), "+1: the oversize one");
                assertEquals(1, value(text, "relay_messages_rejected_total", "reason=\"relay_denied\""), text);
                assertEquals(1, value(text, "relay_messages_rejected_total", "reason=\"size\""), text);
                assertEquals(0, value(text, "relay_messages_rejected_total", "reason=\"backpressure\""), text);
                assertEquals(0, value(text, "relay_messages_rejected_total", "reason=\"syntax\""), text);
                // LoadClient's one session, two swaks runs and the probes: all got the greeting
                assertEquals(3 + PROBES, value(text, "relay_smtp_connections_total", listener,
                        "result=\"accepted\""), text);
                assertEquals(PROBES, value(text, "relay_smtp_quiet_probes_total", listener), text);
                assertEquals(0, value(text, "relay_smtp_sessions_in_progress", listener), text);
                assertEquals(ACCEPTED, value(text, "relay_delivery_delay_seconds_count", "transport=\"smtp\""), text);
                assertEquals(ACCEPTED, value(text, "relay_delivery_delay_seconds_bucket", "transport=\"smtp\"",
                        "le=\"+Inf\""), text);
                assertTrue(value(text, "relay_delivery_attempts_total", "result=\"deferred\"") <= 0, text);
                assertTrue(value(text, "relay_spool_fsync_duration_seconds_count") >= 1, text);
                assertEquals(1, value(text, "relay_cluster_members"), text);
                assertEquals(0, value(text, "relay_queue_messages", "state=\"deferred\""), text);
                assertEquals(0, value(text, "relay_queue_oldest_message_age_seconds"), text);
                assertTrue(value(text, "jvm_threads_current") > 0, "JVM metrics: " + text);
                assertTrue(value(text, "process_cpu_seconds_total") > 0, "process metrics: " + text);
                assertEquals(ACCEPTED, sink.tags().size(), "tags at the sink: " + sink.tags());

                String log = Files.readString(nodeDir.resolve("mail.log"));
                assertEquals(3, occurrences(log, "]: connect from"), "LoadClient and two swaks, no probe: " + log);
                assertEquals(3, occurrences(log, "]: disconnect from"), log);
                assertFalse(log.contains("192.0.2.20") || log.contains("lost connection"), log);
                assertTrue(log.contains("Relay access denied") && log.contains("message file too big"), log);

                HttpResponse<String> om = http.send(HttpRequest.newBuilder(
                                URI.create("http://127.0.0.1:" + health + "/metrics"))
                        .header("Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8")
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, om.statusCode());
                assertTrue(om.headers().firstValue("Content-Type").orElse("").startsWith("application/openmetrics-text"),
                        om.headers().map().toString());
                assertTrue(om.body().endsWith("# EOF\n"), om.body());
                assertTrue(om.body().contains("# TYPE relay_smtp_connections counter"), om.body());
            }
        }
    }

    /** Connects, sends {@code bytes} (maybe none) and closes without an SMTP command: a load-balancer probe. */
    private static void probe(int port, byte[] bytes) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            OutputStream out = s.getOutputStream();
            out.write(bytes);
            out.flush();
        }
    }

    private static String swaks(int port, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Tools.SWAKS, "--server", "127.0.0.1", "--port",
                String.valueOf(port), "--helo", "app.example", "--from", "app@example.com", "--timeout", "20"));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "swaks did not finish");
            return new String(out, StandardCharsets.UTF_8);
        } finally {
            p.destroyForcibly();
        }
    }

    private static String promtool(Path file) throws Exception {
        Process p = new ProcessBuilder(Tools.PROMTOOL, "check", "metrics").redirectInput(file.toFile())
                .redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool did not finish");
            return "exit " + p.exitValue() + "\n" + out;
        } finally {
            p.destroyForcibly();
        }
    }

    /** Scrapes until {@code ready} holds (bounded: 60 s) and returns the last scrape. */
    private String awaitScrape(int port, Predicate<String> ready) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String body = scrape(port);
        while (!ready.test(body) && System.nanoTime() < deadline) {
            Thread.sleep(250);
            body = scrape(port);
        }
        assertTrue(ready.test(body), "metrics never reached the expected state:\n" + body);
        return body;
    }

    private String scrape(int port) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"),
                r.headers().map().toString());
        return r.body();
    }

    /** The sum of the samples of {@code name} whose labels include every {@code k="v"} given (-1: no such sample). */
    static double value(String text, String name, String... labels) {
        double sum = 0;
        boolean found = false;
        for (String line : text.split("\n")) {
            if (line.startsWith("#") || !(line.startsWith(name + "{") || line.startsWith(name + " "))) {
                continue;
            }
            int brace = line.indexOf('}');
            String labelText = line.startsWith(name + "{") ? line.substring(name.length(), brace + 1) : "";
            boolean all = true;
            for (String l : labels) {
                all &= labelText.contains("{" + l + ",") || labelText.contains("," + l + ",")
                        || labelText.contains("{" + l + "}") || labelText.contains("," + l + "}");
            }
            if (all) {
                String rest = line.substring(brace < 0 ? name.length() : brace + 1).trim();
                sum += Double.parseDouble(rest.split(" ")[0]);
                found = true;
            }
        }
        return found ? sum : -1;
    }

    private static int occurrences(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }
}
