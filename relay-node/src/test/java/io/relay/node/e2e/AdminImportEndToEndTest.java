package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code relayctl import-postfix} and the propagation of routing changes, against two real
 * nodes (each its own JVM). The Postfix fixture {@code ses-selected-destinations} (routing's
 * test resources, as copied from a real host) is imported through node A: a dry run shows
 * the difference and changes nothing; the import makes node B route as the fixture says
 * within 1 s; a second import finds nothing to change; the passwords appear in no output
 * and no log. Then 20 changes each of transport, limits and credentials through node A are
 * timed, from relayctl's return until node B's in-force state shows them (B's router for
 * transport, B's API for limits and credentials), after one untimed change of each: each
 * within 1 s, median and max printed as {@code propagation CLASS: n=20 median=.. ms max=.. ms}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AdminImportEndToEndTest {
    private static final String TOKEN = "e2e-import-token-71d9e04cb2";
    private static final Path FIXTURES = Path.of("../routing/src/test/resources/fixtures");
    private static final String SES = "email-smtp.us-east-1.amazonaws.com";
    private static final ObjectMapper JSON = new ObjectMapper();
    private AdminCluster cluster;
    private Path tokenFile;

    @BeforeAll
    void startCluster(@TempDir Path dir) throws Exception {
        cluster = new AdminCluster(dir, TOKEN);
        tokenFile = cluster.tokenFile();
        // one after the other: on a busy machine two JVMs starting at once may each miss the start timeout
        cluster.start(dir, "node", false, (i, nodeDir, smtp, clusterPort, adminPort, members) ->
                // the ses transport as relay-node import-postfix writes it into relay.yaml (not an admin class)
                new NodeYaml(nodeDir, smtp, Ports.free(), clusterPort).with(RelayYaml.create()
                        .hostname(nodeDir.getFileName() + ".relay.test").trust("10.5.0.0/16")
                        .set("smtp.default-transport", "smtp").set("smtp.tls-security-level", "may")
                        .set("smtp.transports.ses.tls-security-level", "encrypt")
                        .set("smtp.transports.ses.fallback-relay", "[]")
                        .drain("0s", "5s").cluster("admin-import-e2e", members).admin(adminPort, tokenFile).text()));
        for (int node = 0; node < 2; node++) {
            int n = node;
            await(() -> relayctlInProcess(n, "limits", "list").err(), String::isEmpty, 60); // the admin API is up
        }
    }

    @AfterAll
    void stop() throws InterruptedException {
        if (cluster != null) {
            cluster.stop(Path.of("target", "admin-import-e2e"));
        }
    }

    @Test
    @Order(1)
    void importPostfixShowsTheDifferenceAppliesItAndIsIdempotent() throws Exception {
        Path fixture = FIXTURES.resolve("ses-selected-destinations").toAbsolutePath();
        long before = version(1);
        String routeBefore = route(1, "u@example.com");
        assertTrue(routeBefore.contains("transport: smtp\n"), routeBefore);

        // dry run through A: the difference, per class; nothing changes on either node
        Cli dry = relayctl(0, "import-postfix", fixture.toString(), "--dry-run");
        assertEquals(0, dry.code(), dry.toString());
        System.out.println("relayctl import-postfix --dry-run:\n" + dry.out());
        List<String> lines = dry.out().lines().toList();
        assertTrue(lines.get(0).matches("CLASS\\s+CHANGE\\s+KEY\\s+BEFORE\\s+AFTER"), dry.out());
        for (String row : List.of("networks\\s+added\\s+127\\.0\\.0\\.0/8\\s+-\\s+-",
                "networks\\s+added\\s+::1/128\\s+-\\s+-", "networks\\s+removed\\s+10\\.5\\.0\\.0/16\\s+-\\s+-",
                "transport\\s+added\\s+example\\.com\\s+-\\s+ses:" + SES.replace(".", "\\."),
                "transport\\s+added\\s+user-1@example\\.net\\s+-\\s+ses:" + SES.replace(".", "\\."),
                "credentials\\s+added\\s+" + SES.replace(".", "\\.") + "\\s+-\\s+user AKIAEXAMPLESESUSER1, password set")) {
            assertTrue(lines.stream().anyMatch(l -> l.matches(row)), row + " in\n" + dry.out());
        }
        assertTrue(dry.out().contains("not carried over ("), dry.out());
        assertTrue(dry.out().contains("  relay.yaml smtp.transports.ses = "), dry.out());
        assertTrue(dry.out().contains("  main.cf: mydestination = "), dry.out());
        assertTrue(dry.out().strip().endsWith("dry run: nothing changed; run without --dry-run to apply 6 changes"),
                dry.out());
        Thread.sleep(300);
        assertEquals(before, version(0), "the dry run changed nothing on A");
        assertEquals(before, version(1), "the dry run changed nothing on B");
        assertEquals(routeBefore, route(1, "u@example.com"));

        // the import through A: node B routes as the fixture says within 1 s
        Cli apply = relayctl(0, "import-postfix", fixture.toString());
        assertEquals(0, apply.code(), apply.toString());
        long t0 = System.nanoTime();
        Predicate<String> sesRoute = r -> r.contains("transport: ses\n") && r.contains("next hop: " + SES + "\n")
                && r.contains("tls security level: encrypt\n")
                && r.contains("credentials: " + SES + " (user AKIAEXAMPLESESUSER1)");
        String seen = await(() -> route(1, "u@example.com"), sesRoute, 10);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("import-postfix through node A in force on node B after %d ms%n", ms);
        assertTrue(ms <= 1000, "node B routed by the import after " + ms + " ms: " + seen);
        assertTrue(apply.out().strip().endsWith("applied 6 changes as version " + (before + 1)
                + "; every node follows within a second"), apply.out());
        assertTrue(sesRoute.test(route(1, "user-1@example.net")), route(1, "user-1@example.net"));
        String other = route(1, "user-2@example.net");
        assertTrue(other.contains("transport: smtp\n") && other.contains("next hop: example.net\n"), other);
        Cli networks = relayctlInProcess(1, "--json", "networks", "list");
        List<String> nets = new ArrayList<>();
        JSON.readTree(networks.out()).get("networks").forEach(n -> nets.add(n.asText()));
        assertEquals(List.of("127.0.0.0/8", "::1/128"), nets);

        // a second import finds nothing to change (also as JSON, through node B)
        Cli again = relayctl(0, "import-postfix", fixture.toString());
        assertEquals(0, again.code(), again.toString());
        assertTrue(again.out().startsWith("no differences\n"), again.out());
        assertTrue(again.out().strip().endsWith("nothing to change: the cluster already has this setup (version "
                + (before + 1) + ")"), again.out());
        Cli json = relayctl(1, "--json", "import-postfix", fixture.toString(), "--dry-run");
        assertEquals(0, json.code(), json.toString());
        JsonNode tree = JSON.readTree(json.out());
        assertEquals(0, tree.get("changes").size(), json.out());
        assertTrue(tree.get("notCarried").size() > 0, json.out());
        assertEquals(before + 1, version(1));

        // another setup: its classes replace this one's (JSON dry run shows limits, removals, new credentials)
        Cli sandbox = relayctl(1, "--json", "import-postfix",
                FIXTURES.resolve("smarthost-sandbox-rate").toAbsolutePath().toString(), "--dry-run");
        assertEquals(0, sandbox.code(), sandbox.toString());
        List<String> changes = new ArrayList<>();
        JSON.readTree(sandbox.out()).get("changes").forEach(c -> changes.add(c.get("kind").asText() + " "
                + c.get("op").asText() + " " + c.get("key").asText()
                + (c.has("after") ? " -> " + c.get("after").asText() : "")));
        assertEquals(List.of("transport removed example.com", "transport removed user-1@example.net",
                "limits added [email-smtp.cc-direction-1.amazonaws.com]:587 -> rates 1/s; concurrency 1",
                "credentials added [email-smtp.cc-direction-1.amazonaws.com]:587 -> user AKIAEXAMPLESESUSER4, password set",
                "credentials removed " + SES), changes);

        // a directory without main.cf: one line, exit 1
        Cli missing = relayctl(0, "import-postfix", fixture.getParent().toString());
        assertEquals(1, missing.code(), missing.toString());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());
        assertTrue(missing.err().contains("main.cf: cannot read"), missing.err());

        // no token, no import
        cluster.assertUnauthorized(1, "{\"networks\":[\"0.0.0.0/0\"]}", new String[] {"Bearer wrong-token-0000000000"},
                new String[][] {{"POST", "/admin/v1/import"}});

        String logs = cluster.logs();
        for (String secret : List.of("exampleSesSecret1", "exampleSesSecret4", TOKEN)) {
            assertFalse(logs.contains(secret), "a secret appears in a node log");
            assertFalse(cluster.cliOutput().contains(secret), "a secret appears in relayctl output");
        }
        assertTrue(logs.contains("import of 6 changes from " + fixture.normalize() + " by 127.0.0.1:"), "audit");
        assertTrue(logs.contains("import from " + fixture.normalize() + ": credentials " + SES
                + " added (user AKIAEXAMPLESESUSER1, password set) by 127.0.0.1:"), "audit");
    }

    @Test
    @Order(2)
    void propagationOfTwentyChangesPerClass() throws Exception {
        // one untimed change of each class first: the timings are of a warm node, not of class loading
        assertEquals(0, relayctlInProcess(0, "transport", "set", "prop.test", "smtp:[10.77.0.99]").code());
        await(() -> route(1, "u@prop.test"), r -> r.contains("next hop: [10.77.0.99]\n"), 10);
        assertEquals(0, relayctlInProcess(0, "limits", "set", "[prop-hop.test]:2525", "--concurrency", "99").code());
        await(() -> get(1, "/admin/v1/limits"), s -> s.contains("\"concurrency\":99}"), 10);
        Path warm = Files.writeString(tokenFile.resolveSibling("pw-warm"), "pw-warm\n");
        assertEquals(0, relayctlInProcess(0, "credentials", "set", "[prop-hop.test]:2525", "warm-user", "--password-file",
                warm.toString()).code());
        await(() -> get(1, "/admin/v1/credentials"), s -> s.contains("\"user\":\"warm-user\""), 10);

        // transport: each entry through A until node B's router takes it (transport test on B)
        List<Long> transport = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String hop = "[10.77.0." + (i + 1) + "]";
            assertEquals(0, relayctlInProcess(0, "transport", "set", "prop.test", "smtp:" + hop).code());
            long start = System.nanoTime();
            await(() -> route(1, "u@prop.test"), r -> r.contains("next hop: " + hop + "\n"), 10);
            transport.add((System.nanoTime() - start) / 1_000_000);
        }
        // limits: a new concurrency each time, until node B's in-force state lists it
        List<Long> limits = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            int c = i + 1;
            assertEquals(0, relayctlInProcess(0, "limits", "set", "[prop-hop.test]:2525", "--concurrency",
                    Integer.toString(c)).code());
            long start = System.nanoTime();
            await(() -> get(1, "/admin/v1/limits"), s -> s.contains("\"nexthop\":\"[prop-hop.test]:2525\",\"rates\":[],"
                    + "\"concurrency\":" + c + "}"), 10);
            limits.add((System.nanoTime() - start) / 1_000_000);
        }
        // credentials: a new user each time, until node B lists it
        List<Long> credentials = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String user = "prop-user-" + i;
            Path pw = Files.writeString(tokenFile.resolveSibling("pw-" + i), "pw-" + i + "\n");
            assertEquals(0, relayctlInProcess(0, "credentials", "set", "[prop-hop.test]:2525", user, "--password-file",
                    pw.toString()).code());
            long start = System.nanoTime();
            await(() -> get(1, "/admin/v1/credentials"), s -> s.contains("\"user\":\"" + user + "\""), 10);
            credentials.add((System.nanoTime() - start) / 1_000_000);
        }
        for (Map.Entry<String, List<Long>> e : Map.of("transport", transport, "limits", limits,
                "credentials", credentials).entrySet()) {
            List<Long> sorted = new ArrayList<>(e.getValue());
            Collections.sort(sorted);
            System.out.printf("propagation %s: n=20 median=%d ms max=%d ms (each: %s)%n", e.getKey(),
                    (sorted.get(9) + sorted.get(10)) / 2, sorted.get(19), e.getValue());
            assertTrue(sorted.get(19) <= 1000, e.getKey() + ": a change took more than 1 s to reach node B: " + sorted);
        }
        relayctlInProcess(0, "transport", "remove", "prop.test");
        relayctlInProcess(0, "limits", "remove", "[prop-hop.test]:2525");
        relayctlInProcess(0, "credentials", "remove", "[prop-hop.test]:2525");
    }

    private long version(int node) throws Exception {
        return JSON.readTree(get(node, "/admin/v1/networks")).get("version").asLong();
    }

    private String route(int node, String address) {
        try {
            return JSON.readTree(get(node, "/admin/v1/transport/test?address="
                    + URLEncoder.encode(address, StandardCharsets.UTF_8))).get("text").asText();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private String get(int node, String path) {
        return cluster.get(node, path);
    }

    private static String await(java.util.function.Supplier<String> read, Predicate<String> done, int seconds)
            throws InterruptedException {
        return AdminCluster.await(read, done, Duration.ofSeconds(seconds), 2);
    }

    /** relayctl in its own JVM, as an operator runs it. */
    private Cli relayctl(int node, String... args) throws Exception {
        return cluster.relayctl(node, null, args);
    }

    /** relayctl's own entry point in this JVM: the same code without a JVM start per change. */
    private Cli relayctlInProcess(int node, String... args) {
        return cluster.relayctlInProcess(node, args);
    }
}
