package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 20 across two nodes, with real clients: a user added with {@code relayctl users add}
 * through node A logs in with swaks on node B's submission port (timed from relayctl's exit);
 * the user's own rate ({@code --rate 3/m}) is counted for the cluster, so the fourth message,
 * whichever node takes it, gets 450 4.7.1; a bounded brute-force run (50 attempts with a wrong
 * password against node A from one client) is locked out after {@code smtpd.auth-failure-limit}
 * failures, and that client is refused on node B too, even with the right password. Every
 * message is counted at the upstream: only those with a 250 arrive, each once.
 */
class SubmissionClusterEndToEndTest {
    private static final String TOKEN = "e2e-submission-cluster-5e1a09c3";
    private static final String PASSWORD = "Sub-pw-4k!never-logged";
    private AdminCluster cluster;

    @AfterEach
    void stop(TestInfo test) throws InterruptedException {
        if (cluster != null) {
            cluster.stop(Path.of("target", "submission-cluster-e2e", test.getTestMethod().orElseThrow().getName()));
        }
    }

    private static Tools.Run swaks(int port, String local, String user, String password, String subject)
            throws Exception {
        return Tools.run(Duration.ofSeconds(60), Tools.SWAKS, "--server", "127.0.0.1:" + port,
                "--local-interface", local, "--helo", "app.example", "--tls", "--timeout", "30",
                "--auth", "PLAIN", "--auth-user", user, "--auth-password", password, "--auth-hide-password",
                "--from", "app@web.example", "--to", "someone@dest.example", "--header", "Subject: " + subject);
    }

    /** The last error reply swaks got ({@code <** } before TLS, {@code <~* } after), or "" when there was none. */
    private static String lastError(Tools.Run r) {
        String last = "";
        for (String line : r.output().lines().toList()) {
            if (line.startsWith("<** ") || line.startsWith("<~* ")) {
                last = line.substring(4).strip();
            }
        }
        return last;
    }

    @Test
    void aUserAddedOnOneNodeLogsInOnTheOtherItsRateAndLockoutCountForTheCluster(@TempDir Path dir) throws Exception {
        Tools.require(Tools.SWAKS);
        Tools.requirePythonModule("aiosmtpd");
        Files.createDirectories(dir.resolve("up"));
        int[] submission = {Ports.free(), Ports.free()};
        try (AiosmtpdUpstream upstream = AiosmtpdUpstream.builder(dir.resolve("up")).start()) {
            cluster = new AdminCluster(dir, TOKEN);
            cluster.start(dir, "node", true, (i, nodeDir, smtp, clusterPort, adminPort, members) ->
                    new NodeYaml(nodeDir, smtp, Ports.free(), clusterPort).with(RelayYaml.relayingTo(upstream.port())
                            .hostname(nodeDir.getFileName() + ".relay.test").trust("127.0.0.1/32").quickRetries()
                            .set("smtpd.submission.listen", "[\"127.0.0.1:" + submission[i] + "\"]")
                            .set("smtpd.auth-failure-limit", 5).set("smtpd.auth-failure-window", "10m")
                            .cluster("submission-e2e", members).admin(adminPort, cluster.tokenFile()).text()));
            cluster.awaitAdminPorts(Duration.ofSeconds(60));
            for (int port : submission) {
                Ports.awaitOpen(port, Duration.ofSeconds(30));
            }

            // users add through A; then swaks on B's submission port until it logs in
            Cli add = cluster.relayctl(0, PASSWORD + "\n", "users", "add", "webapp", "--sender", "@web.example",
                    "--rate", "3/m");
            assertEquals(0, add.code(), add.toString());
            long t0 = System.nanoTime();
            Tools.Run first = null;
            int tries = 0;
            while (tries < 20) {
                tries++;
                first = swaks(submission[1], "127.0.0.3", "webapp", PASSWORD, "rate-1");
                if (first.exit() == 0) {
                    break;
                }
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(0, first.exit(), first.output());
            System.out.printf("users add through node A -> AUTH and 250 on node B's submission port: %d ms,"
                    + " %d swaks session(s)%n", ms, tries);

            // the user's rate, 3/m, for the whole cluster: 2 more (one per node), then 450 on either
            assertEquals(0, swaks(submission[0], "127.0.0.3", "webapp", PASSWORD, "rate-2").exit());
            assertEquals(0, swaks(submission[1], "127.0.0.3", "webapp", PASSWORD, "rate-3").exit());
            for (int node = 0; node < 2; node++) {
                Tools.Run over = swaks(submission[node], "127.0.0.3", "webapp", PASSWORD, "rate-over-" + node);
                assertTrue(lastError(over).startsWith("450 4.7.1"), "node " + node + ": " + over.output());
            }

            // brute force, bounded: 50 wrong passwords against A from 127.0.0.4
            Map<String, Integer> replies = new TreeMap<>();
            for (int i = 0; i < 50; i++) {
                Tools.Run r = swaks(submission[0], "127.0.0.4", "webapp", "wrong-" + i, "brute-" + i);
                String code = lastError(r).isEmpty() ? "250" : lastError(r).substring(0, 3);
                replies.merge(code, 1, Integer::sum);
            }
            System.out.println("brute force, 50 attempts against node A from 127.0.0.4: " + replies);
            assertEquals(5, replies.getOrDefault("535", 0), replies.toString());
            assertEquals(45, replies.getOrDefault("421", 0) + replies.getOrDefault("454", 0), replies.toString());
            // the same client on node B, with the right password: refused too
            Tools.Run onB = swaks(submission[1], "127.0.0.4", "webapp", PASSWORD, "locked-on-b");
            String refused = lastError(onB);
            System.out.println("then on node B with the right password: " + refused);
            assertTrue(refused.startsWith("421 4.7.0") || refused.startsWith("454 4.7.0"), onB.output());
            // another client is not locked
            Tools.Run other = swaks(submission[1], "127.0.0.5", "webapp", "wrong", "other-client");
            assertTrue(lastError(other).startsWith("535 5.7.8"), other.output());

            // count: exactly the three 250s arrived, once each
            List<String> subjects = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (upstream.messages().size() < 3 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            Thread.sleep(1000);
            for (AiosmtpdUpstream.Received m : upstream.messages()) {
                for (String line : m.text().split("\r?\n")) {
                    if (line.startsWith("Subject: ")) {
                        subjects.add(line.substring(9));
                    }
                }
            }
            System.out.println("sent 3 accepted / delivered " + subjects.size() + " " + subjects);
            assertEquals(List.of("rate-1", "rate-2", "rate-3"), subjects.stream().sorted().toList());

            String logs = cluster.logs();
            assertFalse(logs.contains(PASSWORD), "the password in a node log");
            assertTrue(logs.contains("SASL PLAIN authentication failed"), "Postfix's warning for a failure");
        }
    }
}
