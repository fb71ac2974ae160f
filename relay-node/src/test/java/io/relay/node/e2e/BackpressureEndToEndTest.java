package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.LoadClient;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backpressure through a real node: with the upstream down the queue fills to
 * {@code queue.max-messages}; beyond it clients get {@code 452 4.3.1} and /readyz turns
 * 503; once the upstream is back the queue drains, every 250 arrives, and new mail is
 * accepted again.
 */
class BackpressureEndToEndTest {

    @Test
    void aFullQueueAnswers452ThenRecoversLosingNothing(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SMTP_SINK);
        int smtp = Ports.free();
        int health = Ports.free();
        try (TaggedSink sink = new TaggedSink(dir.resolve("sink"))) {
            String yaml = SmartHostEndToEndTest.nodeConfig(new NodeYaml(dir.resolve("node"), smtp, health, Ports.free()),
                    "relayhost: \"[127.0.0.1]:" + sink.port() + "\"\ntls-security-level: none")
                    .replace("queue:\n", "queue:\n  max-messages: 50\n");
            try (NodeProcess node = NodeProcess.start(dir.resolve("node"), yaml, smtp)) {
                LoadClient first = new LoadClient("127.0.0.1", smtp);
                first.run("full", 80, 4, 10, 2048, Duration.ofSeconds(60));
                System.out.printf("backpressure: %d sent, %d got 250, %d refused while the upstream was down%n",
                        first.sent(), first.acknowledged().size(), first.refused().size());
                assertEquals(50, first.acknowledged().size(), "accepted up to the high-water mark");
                // The rest were refused (a session cut mid-transaction leaves a message neither
                // acknowledged nor refused; the client would retry it).
                assertTrue(first.refused().size() >= 25, "the rest refused: " + first.refused().size());
                String log = Files.readString(dir.resolve("node/mail.log"));
                assertTrue(log.contains("452 4.3.1 Insufficient system storage"), log);
                assertEquals(503, readyz(health), "a full node leaves the load balancer's rotation");

                sink.start();
                KillNineTest.report("backpressure drain", first, sink, Duration.ofSeconds(120));
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (readyz(health) != 200 && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertEquals(200, readyz(health), "ready again once the queue drained");
                LoadClient second = new LoadClient("127.0.0.1", smtp);
                second.run("again", 20, 2, 10, 2048, Duration.ofSeconds(60));
                assertEquals(20, second.acknowledged().size(), "new mail is accepted again");
                KillNineTest.report("backpressure recovered", second, sink, Duration.ofSeconds(60));
            }
        }
    }

    private static int readyz(int port) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/readyz")).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.statusCode();
    }
}
