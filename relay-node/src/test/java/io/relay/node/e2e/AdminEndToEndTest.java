package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API and relayctl against two real nodes (each its own JVM) that share one
 * token file: a mynetworks change through node A is in force on node B (SMTP relaying and
 * {@code networks list}), the propagation time over 20 changes is printed, changes survive
 * SIGTERM and restart of both nodes, the open-relay check, a wrong token and invalid CIDRs
 * fail with exit 1 and one line; relayctl runs as its own process where exit codes matter.
 */
class AdminEndToEndTest {
    private static final String TOKEN = "e2e-admin-token-4f1c9a7d2b";
    private static final ObjectMapper JSON = new ObjectMapper();
    private AdminCluster cluster;
    private Path tokenFile;

    @AfterEach
    void stop(TestInfo test) throws InterruptedException {
        if (cluster != null) {
            cluster.stop(Path.of("target", "admin-e2e", test.getTestMethod().orElseThrow().getName()));
        }
    }

    @Test
    void changesThroughOneNodeAreInForceOnTheOtherAndSurviveARestart(@TempDir Path dir) throws Exception {
        cluster = new AdminCluster(dir, TOKEN);
        tokenFile = cluster.tokenFile();
        cluster.start(dir, "node", true, (i, nodeDir, smtp, clusterPort, adminPort, members) ->
                config(nodeDir, smtp, clusterPort, adminPort, members));
        cluster.awaitAdminPorts(Duration.ofSeconds(60));
        NodeProcess b = cluster.node(1);

        // 127.0.0.1 is not in the configured mynetworks: node B refuses to relay for it
        assertEquals(554, rcptReply(b.smtpPort()), "relay denied before the change");
        Cli add = relayctl(0, "networks", "add", "127.0.0.0/8");
        assertEquals(0, add.code(), add.toString());
        long t0 = System.nanoTime();
        long deadline = t0 + TimeUnit.SECONDS.toNanos(10);
        while (rcptReply(b.smtpPort()) != 250 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(250, rcptReply(b.smtpPort()), "node B relays for 127.0.0.1 after the change through node A");
        System.out.printf("SMTP relaying on node B after the change through node A: %d ms%n",
                (System.nanoTime() - t0) / 1_000_000);

        // 20 changes through A, each timed until B's list shows it
        List<Long> millis = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String net = "10.9." + (i / 2) + ".0/24";
            boolean adding = i % 2 == 0;
            Cli r = cluster.relayctlInProcess(0, "networks", adding ? "add" : "remove", net);
            assertEquals(0, r.code(), r.toString());
            long start = System.nanoTime();
            long until = start + TimeUnit.SECONDS.toNanos(10);
            while (networks(1).contains(net) != adding && System.nanoTime() < until) {
                Thread.sleep(2);
            }
            assertEquals(adding, networks(1).contains(net), "change " + i + " reached node B");
            millis.add((System.nanoTime() - start) / 1_000_000);
        }
        List<Long> sorted = new ArrayList<>(millis);
        Collections.sort(sorted);
        System.out.printf("propagation A -> B over 20 changes: median %d ms, max %d ms (each: %s)%n",
                (sorted.get(9) + sorted.get(10)) / 2, sorted.get(19), millis);

        Cli wide = relayctl(0, "networks", "add", "10.9.0.1/16");
        assertEquals(0, wide.code(), wide.toString());
        assertTrue(wide.err().contains("host bits set; stored as 10.9.0.0/16"), wide.err());

        // --json parses, on the other node
        Cli json = relayctl(1, "--json", "networks", "list");
        assertEquals(0, json.code(), json.toString());
        JsonNode listed = JSON.readTree(json.out());
        List<String> nets = new ArrayList<>();
        listed.get("networks").forEach(n -> nets.add(n.asText()));
        assertTrue(nets.containsAll(List.of("10.5.0.0/16", "127.0.0.0/8", "10.9.0.0/16")), nets.toString());
        Cli table = relayctl(1, "networks", "list");
        assertTrue(table.out().lines().anyMatch(l -> l.matches("10\\.9\\.0\\.0/16\\s+admin")), table.out());

        // the open-relay check and invalid CIDRs: exit 1, one line with the reason
        Cli open = relayctl(0, "networks", "add", "0.0.0.0/0");
        assertEquals(1, open.code(), open.toString());
        assertEquals(1, open.err().strip().lines().count(), open.err());
        assertTrue(open.err().contains("open relay"), open.err());
        assertTrue(!networks(0).contains("0.0.0.0/0"), "nothing changed");
        Cli bad = relayctl(0, "networks", "add", "10.0.0.300/8");
        assertEquals(1, bad.code(), bad.toString());
        assertTrue(bad.err().strip().matches("relayctl: '10\\.0\\.0\\.300/8' is not a CIDR network.*"), bad.err());

        // a wrong or missing token: 401 with no detail on every endpoint of both nodes
        for (int node = 0; node < 2; node++) {
            cluster.assertUnauthorized(node, "{\"add\":[\"10.77.0.0/16\"]}",
                    new String[] {null, "Bearer wrong-token-0000000000", "Bearer " + TOKEN + "x", TOKEN},
                    new String[][] {{"GET", "/admin/v1/networks"}, {"POST", "/admin/v1/networks"},
                            {"GET", "/admin/v1/nosuch"}, {"DELETE", "/admin/v1/networks"}});
        }
        assertTrue(!networks(0).contains("10.77.0.0/16"));
        Path wrong = Files.writeString(dir.resolve("wrong.token"), "wrong-token-0000000000");
        Cli denied = cluster.relayctlWith(Map.of("RELAYCTL_NODE", "127.0.0.1:" + cluster.adminPort(0),
                "RELAYCTL_TOKEN_FILE", wrong.toString()), null, "networks", "list");
        assertEquals(1, denied.code(), denied.toString());
        assertEquals("relayctl: 401 unauthorized — check --token-file (it must hold the node's admin token)",
                denied.err().strip());
        String logs = cluster.node(0).stderr() + Files.readString(cluster.node(0).dir().resolve("node.out"));
        assertTrue(!logs.contains(TOKEN), "the token never appears in the node's output");
        assertTrue(logs.contains("mynetworks added 127.0.0.0/8 by 127.0.0.1:"), "audit line");

        // SIGTERM both, start both again: the changes are still in force
        cluster.terminateAndRestart();
        cluster.awaitAdminPorts(Duration.ofSeconds(60));
        for (int node = 0; node < 2; node++) {
            List<String> after = networks(node);
            assertTrue(after.containsAll(List.of("127.0.0.0/8", "10.9.0.0/16", "10.5.0.0/16")),
                    "node " + node + " after restart: " + after);
            assertTrue(after.stream().noneMatch(n -> n.startsWith("10.9.") && n.endsWith("/24")), after.toString());
        }
        assertEquals(250, rcptReply(b.smtpPort()), "node B still relays for 127.0.0.1 after the restart");
    }

    @Test
    void aTokenFileOthersCanReadRefusesTheStart(@TempDir Path dir) throws Exception {
        tokenFile = Files.writeString(dir.resolve("admin.token"), TOKEN);
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-r--r--"));
        int smtp = Ports.free();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> NodeProcess.start(dir.resolve("n"),
                config(dir.resolve("n"), smtp, Ports.free(), Ports.free(), ""), smtp));
        assertTrue(e.getMessage().contains("node exited with 2"), e.getMessage());
        assertTrue(e.getMessage().contains("admin.token-file: " + tokenFile
                + " is readable or writable by group or others; run: chmod 600 " + tokenFile), e.getMessage());
        assertTrue(!e.getMessage().contains(TOKEN));
    }

    private String config(Path dir, int smtp, int clusterPort, int adminPort, String members) {
        return new NodeYaml(dir, smtp, Ports.free(), clusterPort).with(RelayYaml.create()
                .hostname(dir.getFileName() + ".relay.test").trust("10.5.0.0/16")
                .set("smtp.default-transport", "\"discard:\"").drain("0s", "5s").cluster("admin-e2e", members)
                .admin(adminPort, tokenFile).text());
    }

    /** relayctl in its own JVM, as an operator runs it. */
    private Cli relayctl(int node, String... args) throws Exception {
        return cluster.relayctl(node, null, args);
    }

    private List<String> networks(int node) throws Exception {
        List<String> out = new ArrayList<>();
        JSON.readTree(cluster.get(node, "/admin/v1/networks")).get("networks").forEach(n -> out.add(n.asText()));
        return out;
    }

    /** One SMTP dialogue from 127.0.0.1 up to RCPT to an outside domain; returns the RCPT reply code. */
    private static int rcptReply(int port) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            var out = s.getOutputStream();
            reply(in);
            out.write("EHLO client.test\r\n".getBytes(StandardCharsets.US_ASCII));
            reply(in);
            out.write("MAIL FROM:<a@client.test>\r\n".getBytes(StandardCharsets.US_ASCII));
            reply(in);
            out.write("RCPT TO:<b@example.com>\r\n".getBytes(StandardCharsets.US_ASCII));
            int code = reply(in);
            out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
            return code;
        }
    }

    private static int reply(BufferedReader in) throws IOException {
        while (true) {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed");
            }
            if (line.length() < 4 || line.charAt(3) != '-') {
                return Integer.parseInt(line.substring(0, 3));
            }
        }
    }
}
