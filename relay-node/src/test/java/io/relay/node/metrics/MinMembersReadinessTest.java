package io.relay.node.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.Ports;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cluster.min-members}: a node configured for two members answers 503 on /readyz while
 * it is alone, naming the {@code cluster-size} check, and 200 once a second node (its own JVM)
 * has joined; relay_cluster_members follows.
 */
class MinMembersReadinessTest {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private static String config(Path dir, int smtp, int health, int cluster, String members, int minMembers) {
        return """
                smtpd:
                  listen: ["127.0.0.1:%d"]
                  hostname: %s.test
                queue:
                  spool-dir: %s
                health:
                  listen: 127.0.0.1:%d
                cluster:
                  name: min-members-test
                  listen: 127.0.0.1:%d
                  members: [%s]
                  min-members: %d
                log:
                  file: %s
                """.formatted(smtp, dir.getFileName(), dir.resolve("spool"), health, cluster, members, minMembers,
                dir.resolve("mail.log"));
    }

    @Test
    void notReadyUntilTheSecondMemberJoins(@TempDir Path dir) throws Exception {
        int smtpA = Ports.free();
        int healthA = Ports.free();
        int clusterA = Ports.free();
        int smtpB = Ports.free();
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        try (NodeProcess nodeA = NodeProcess.start(a, config(a, smtpA, healthA, clusterA, "", 2), smtpA)) {
            HttpResponse<String> alone = get(healthA, "/readyz");
            assertEquals(503, alone.statusCode(), alone.body());
            assertTrue(alone.body().contains("cluster-size") && alone.body().contains("1 of 2 required members"),
                    alone.body());
            assertTrue(get(healthA, "/metrics").body().contains("relay_cluster_members 1.0"));

            try (NodeProcess nodeB = NodeProcess.start(b, config(b, smtpB, Ports.free(), Ports.free(),
                    "\"127.0.0.1:" + clusterA + "\"", 1), smtpB)) {
                HttpResponse<String> joined = awaitStatus(healthA, 200, Duration.ofSeconds(60));
                assertTrue(joined.body().contains("cluster-size"), joined.body());
                assertTrue(get(healthA, "/metrics").body().contains("relay_cluster_members 2.0"));
            }
        }
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> awaitStatus(int port, int status, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        HttpResponse<String> last = get(port, "/readyz");
        while (last.statusCode() != status && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(200);
            last = get(port, "/readyz");
        }
        assertEquals(status, last.statusCode(), last.body());
        return last;
    }
}
