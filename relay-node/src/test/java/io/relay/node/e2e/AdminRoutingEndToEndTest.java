package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.relay.node.testing.LoadClient;
import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code relayctl transport|limits|credentials} against two real nodes (each its own JVM):
 * a transport entry set through node A sends mail taken by node B to another upstream
 * (two smtp-sinks, real SMTP through node B); limits and credentials set through A show on
 * B ({@code limits list}, {@code credentials list}, {@code transport test}); the password,
 * given on stdin, appears in no log and no relayctl output; a wrong token is 401 on every
 * new endpoint; everything is still in force after SIGTERM and restart of both nodes.
 */
class AdminRoutingEndToEndTest {
    private static final String TOKEN = "e2e-routing-token-8c2e51f0a9";
    private static final String PASSWORD = "pw-Zq7!x9-never-logged";
    private static final ObjectMapper JSON = new ObjectMapper();
    private AdminCluster cluster;

    @AfterEach
    void stop(TestInfo test) throws InterruptedException {
        if (cluster != null) {
            cluster.stop(Path.of("target", "admin-routing-e2e", test.getTestMethod().orElseThrow().getName()));
        }
    }

    @Test
    void routingChangesThroughOneNodeAreInForceOnTheOtherAndSurviveARestart(@TempDir Path dir) throws Exception {
        cluster = new AdminCluster(dir, TOKEN);
        try (TaggedSink oldUpstream = TaggedSink.started(dir.resolve("old"));
             TaggedSink newUpstream = TaggedSink.started(dir.resolve("new"))) {
            startCluster(dir, oldUpstream.port());
            NodeProcess b = cluster.node(1);
            String newHop = "[127.0.0.1]:" + newUpstream.port();

            // before: node B sends example.com to the relayhost (the old upstream)
            send(b, "before", 2);
            awaitTags(oldUpstream, "before", 2);

            // transport set through A: node B's routing follows (timed from relayctl's exit)
            rawRoute(1, "u@example.com");
            Cli set = relayctl(0, null, "transport", "set", "example.com", "smtp:" + newHop);
            assertEquals(0, set.code(), set.toString());
            assertTrue(set.out().lines().anyMatch(l -> l.matches("example\\.com\\s+smtp:\\Q" + newHop + "\\E\\s+admin")),
                    set.out());
            long t0 = System.nanoTime();
            long deadline = t0 + TimeUnit.SECONDS.toNanos(10);
            while (!rawRoute(1, "u@example.com").contains("next hop: " + newHop) && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(routeTest(1, "u@example.com").contains("next hop: " + newHop), routeTest(1, "u@example.com"));
            System.out.printf("transport set through node A in force on node B after %d ms%n", ms);
            send(b, "after", 3);
            awaitTags(newUpstream, "after", 3);
            assertFalse(oldUpstream.tags().keySet().stream().anyMatch(t -> t.startsWith("after")),
                    "no message of after the change reached the old upstream: " + oldUpstream.tags());

            // test on B, as its own process: the route command's text
            Cli test = relayctl(1, null, "transport", "test", "u@example.com", "--sender", "s@client.test");
            assertEquals(0, test.code(), test.toString());
            assertTrue(test.out().startsWith("address: u@example.com\ntransport: smtp\nkind: smtp\nnext hop: " + newHop),
                    test.out());
            assertTrue(test.out().contains("matched by: transport_maps: example.com"), test.out());

            // limits through A: in B's list and B's routing decision
            Cli limits = relayctl(0, null, "limits", "set", newHop, "--rate", "50/s", "--rate", "1000/h",
                    "--concurrency", "3");
            assertEquals(0, limits.code(), limits.toString());
            awaitOnB(() -> relayctlInProcess(1, "limits", "list").out(),
                    s -> s.lines().anyMatch(l -> l.matches("\\Q" + newHop + "\\E\\s+50/s, 1000/h\\s+3")));
            String limited = routeTest(1, "u@example.com");
            assertTrue(limited.contains("concurrency: 3\n") && limited.contains("rates: 50/s, 1000/h\n")
                    && limited.contains("admin limits: " + newHop), limited);
            Cli badRate = relayctl(0, null, "limits", "set", newHop, "--rate", "5/x");
            assertEquals(1, badRate.code(), badRate.toString());
            assertEquals(1, badRate.err().strip().lines().count(), badRate.err());
            assertTrue(badRate.err().contains("rate '5/x' is not N/unit"), badRate.err());
            Cli noArgs = relayctl(0, null, "limits", "set", newHop);
            assertEquals(2, noArgs.code(), noArgs.toString());
            send(b, "limited", 2);
            awaitTags(newUpstream, "limited", 2);

            // credentials through A, password on stdin; a next hop of its own so the sinks need no AUTH
            Cli route = relayctl(0, null, "transport", "set", "auth.test", "smtp:[auth.example.net]:587");
            assertEquals(0, route.code(), route.toString());
            Cli creds = relayctl(0, PASSWORD + "\n", "credentials", "set", "[auth.example.net]:587", "relay-user");
            assertEquals(0, creds.code(), creds.toString());
            awaitOnB(() -> relayctlInProcess(1, "credentials", "list").out(),
                    s -> s.lines().anyMatch(l -> l.matches("\\[auth\\.example\\.net\\]:587\\s+relay-user")));
            Cli credsJson = relayctl(1, null, "--json", "credentials", "list");
            JsonNode listed = JSON.readTree(credsJson.out()).get("credentials").get(0);
            assertEquals("relay-user", listed.get("user").asText());
            assertFalse(listed.has("password"));
            String authRoute = routeTest(1, "u@auth.test");
            assertTrue(authRoute.contains("credentials: [auth.example.net]:587 (user relay-user)"), authRoute);
            Cli noPassword = relayctl(0, "", "credentials", "set", "[auth.example.net]:587", "relay-user");
            assertEquals(1, noPassword.code(), noPassword.toString());
            Cli argvPassword = relayctl(0, null, "credentials", "set", "[auth.example.net]:587", "relay-user", PASSWORD);
            assertEquals(2, argvPassword.code(), "a password on the command line is a usage error");

            // import a transport(5) file through A: both entries on B, one audit line
            Path file = Files.writeString(dir.resolve("transport"), """
                    # imported
                    imp1.test    smtp:[127.0.0.1]:%d
                    .imp2.test   discard:imported
                    """.formatted(newUpstream.port()));
            Cli imp = relayctl(0, null, "transport", "import", file.toString());
            assertEquals(0, imp.code(), imp.toString());
            awaitOnB(() -> relayctlInProcess(1, "--json", "transport", "list").out(),
                    s -> s.contains("\"imp1.test\"") && s.contains("\".imp2.test\""));
            assertTrue(routeTest(1, "x@a.imp2.test").contains("kind: discard"), routeTest(1, "x@a.imp2.test"));
            Cli badImport = relayctl(0, null, "transport", "import",
                    Files.writeString(dir.resolve("bad"), "ok.test smtp:[a]\nbroken.test smtp:[a b]\n").toString());
            assertEquals(1, badImport.code(), badImport.toString());
            assertTrue(badImport.err().contains("bad:2"), badImport.err());

            // a wrong or missing token: 401 with no detail on every new endpoint of both nodes
            for (int node = 0; node < 2; node++) {
                cluster.assertUnauthorized(node, "{\"remove\":[\"example.com\"]}",
                        new String[] {null, "Bearer wrong-token-0000000000", TOKEN},
                        new String[][] {{"GET", "/admin/v1/transport"}, {"POST", "/admin/v1/transport"},
                                {"GET", "/admin/v1/transport/test?address=u@example.com"}, {"GET", "/admin/v1/limits"},
                                {"POST", "/admin/v1/limits"}, {"GET", "/admin/v1/credentials"},
                                {"POST", "/admin/v1/credentials"}});
            }
            Path wrong = Files.writeString(dir.resolve("wrong.token"), "wrong-token-0000000000");
            Cli denied = cluster.relayctlWith(Map.of("RELAYCTL_NODE", "127.0.0.1:" + cluster.adminPort(1),
                    "RELAYCTL_TOKEN_FILE", wrong.toString()), null, "credentials", "list");
            assertEquals(1, denied.code(), denied.toString());
            assertTrue(routeTest(0, "u@example.com").contains("next hop: " + newHop), "nothing changed");

            // SIGTERM both, start both again: all still in force, mail still goes to the new upstream
            cluster.terminateAndRestart();
            for (int node = 0; node < 2; node++) {
                int n = node;
                awaitOnB(() -> relayctlInProcess(n, "limits", "list").err(), String::isEmpty); // the admin API is up
                String r = routeTest(node, "u@example.com");
                assertTrue(r.contains("next hop: " + newHop) && r.contains("concurrency: 3\n"), "node " + node + ": " + r);
                assertTrue(routeTest(node, "u@auth.test").contains("(user relay-user)"), "node " + node);
                assertTrue(relayctlInProcess(node, "transport", "list").out().contains("imp1.test"), "node " + node);
            }
            send(cluster.node(0), "restarted", 2);
            awaitTags(newUpstream, "restarted", 2);

            // the password is in no log and no relayctl output; the audit names the user
            String logs = cluster.logs();
            assertFalse(logs.contains(PASSWORD), "the password appears in a node log");
            assertFalse(cluster.cliOutput().contains(PASSWORD), "the password appears in relayctl output");
            assertTrue(logs.contains("credentials for [auth.example.net]:587 set (user relay-user) by 127.0.0.1:"), "audit");
            assertTrue(logs.contains("transport example.com set to smtp:" + newHop + " by 127.0.0.1:"), "audit");
            assertTrue(logs.contains("transport import of 2 entries from transport by 127.0.0.1:"), "audit");
            assertTrue(logs.contains("limits for " + newHop + " set (rates 50/s, 1000/h, concurrency 3) by"), "audit");
            for (NodeProcess n : cluster.nodes()) {
                Path state = n.dir().resolve("spool").resolve("admin-state.json");
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
            }
        }
    }

    private void send(NodeProcess node, String prefix, int n) throws Exception {
        LoadClient c = new LoadClient("127.0.0.1", node.smtpPort(), "example.com");
        c.run(prefix, n, 1, n, 200, Duration.ofSeconds(60));
        assertEquals(n, c.acknowledged().size(), "accepted: " + c.acknowledged() + ", failed " + c.failed());
    }

    private static void awaitTags(TaggedSink sink, String prefix, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (count(sink, prefix) < n && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(n, count(sink, prefix), prefix + " messages at upstream " + sink.port() + ": " + sink.tags());
    }

    private static long count(TaggedSink sink, String prefix) throws IOException {
        return sink.tags().keySet().stream().filter(t -> t.startsWith(prefix + "-")).count();
    }

    private static void awaitOnB(java.util.function.Supplier<String> read, java.util.function.Predicate<String> done)
            throws InterruptedException {
        AdminCluster.await(read, done, Duration.ofSeconds(30), 10);
    }

    /** The route text from the node's test endpoint, over a warm HTTP client. */
    private String rawRoute(int node, String address) throws Exception {
        return JSON.readTree(cluster.get(node, "/admin/v1/transport/test?address=" + address)).get("text").asText();
    }

    private String routeTest(int node, String address) {
        Cli c = relayctlInProcess(node, "transport", "test", address);
        assertEquals(0, c.code(), c.toString());
        return c.out();
    }

    private void startCluster(Path dir, int relayPort) throws Exception {
        cluster.start(dir, "node", true, (i, nodeDir, smtp, clusterPort, adminPort, members) ->
                new NodeYaml(nodeDir, smtp, Ports.free(), clusterPort).with(RelayYaml.relayingTo(relayPort)
                        .hostname(nodeDir.getFileName() + ".relay.test").quickRetries().drain("0s", "10s")
                        .cluster("admin-routing-e2e", members).admin(adminPort, cluster.tokenFile()).text()));
    }

    /** relayctl in its own JVM, as an operator runs it; {@code stdin} is written to it (null: nothing). */
    private Cli relayctl(int node, String stdin, String... args) throws Exception {
        return cluster.relayctl(node, stdin, args);
    }

    /** relayctl's own entry point in this JVM, for polling. */
    private Cli relayctlInProcess(int node, String... args) {
        return cluster.relayctlInProcess(node, args);
    }
}
