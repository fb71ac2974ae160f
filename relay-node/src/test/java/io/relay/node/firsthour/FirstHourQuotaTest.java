package io.relay.node.firsthour;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16 item 8, the daily quota as an operator meets it: a {@code 1/d} limit set with
 * {@code relayctl limits set}, two messages to that next hop. The second is held back; it
 * used to show in {@code relayctl queue list} as {@code active} with no reason, and after
 * {@code relayctl limits remove} and {@code relayctl queue retry --all} it still waited for
 * the next day's slot. Now it shows as deferred with the quota and its next slot, and the
 * retry sends it.
 */
class FirstHourQuotaTest {
    private static final String TOKEN = "firsthour-quota-admin-token-4c1d";

    @Test
    void aMessageHeldByADailyQuotaShowsWhyAndGoesOutOnceTheQuotaIsRemovedAndRetried(@TempDir Path dir)
            throws Exception {
        Tools.require(Tools.SWAKS);
        Tools.requirePythonModule("aiosmtpd");
        Path tokenFile = Files.writeString(dir.resolve("admin.token"), TOKEN + "\n");
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        try (AiosmtpdUpstream up = AiosmtpdUpstream.builder(Files.createDirectories(dir.resolve("up"))).start()) {
            int smtp = Ports.free();
            int admin = Ports.free();
            Path nodeDir = dir.resolve("node");
            String hop = "[127.0.0.1]:" + up.port();
            try (NodeProcess node = NodeProcess.start(nodeDir, NodeYaml.in(nodeDir, smtp).with("""
                    smtp:
                      default-transport: smtp
                      relayhost: "%s"
                    admin:
                      listen: 127.0.0.1:%d
                      token-file: %s
                    """.formatted(hop, admin, tokenFile)), smtp)) {
                Ports.awaitOpen(admin, Duration.ofSeconds(60));
                Map<String, String> env = Map.of("RELAYCTL_NODE", "127.0.0.1:" + admin,
                        "RELAYCTL_TOKEN_FILE", tokenFile.toString());
                Cli set = AdminCluster.runInProcess(env, "limits", "set", hop, "--rate", "1/d");
                assertEquals(0, set.code(), set.out() + set.err());
                Thread.sleep(1500); // every node applies an admin change within a second

                swaks(smtp, "first@example.com");
                swaks(smtp, "second@example.com");
                awaitArrivals(up, 1);
                String listed = AdminCluster.await(() -> AdminCluster.runInProcess(env, "queue", "list").out(),
                        out -> out.contains("daily quota"), Duration.ofSeconds(30), 250);
                String row = listed.lines().filter(l -> l.contains("second@example.com")).findFirst().orElse(listed);
                assertTrue(row.matches(".*\\bdeferred\\b.*daily quota of 1/d for \\[127\\.0\\.0\\.1]:" + up.port()
                        + " reached; next slot at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ.*"), listed);

                Cli removed = AdminCluster.runInProcess(env, "limits", "remove", hop);
                assertEquals(0, removed.code(), removed.out() + removed.err());
                Thread.sleep(1500);
                Cli retry = AdminCluster.runInProcess(env, "queue", "retry", "--all");
                assertEquals(0, retry.code(), retry.out() + retry.err());
                awaitArrivals(up, 2);
                assertEquals(List.of(List.of("first@example.com"), List.of("second@example.com")),
                        up.messages().stream().map(AiosmtpdUpstream.Received::recipients).sorted(
                                java.util.Comparator.comparing(Object::toString)).toList());
            }
        }
    }

    private static void swaks(int port, String to) throws Exception {
        Tools.Run r = Tools.swaks(port, "--from", "app@web.example", "--to", to);
        assertEquals(0, r.exit(), "swaks: " + r.output());
    }

    private static void awaitArrivals(AiosmtpdUpstream up, int n) throws Exception {
        assertEquals(n, up.awaitMessages(n, Duration.ofSeconds(30)).size(), "arrivals at the upstream");
    }
}
