package io.relay.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.relay.node.testing.AiosmtpdUpstream;
import io.relay.node.testing.AdminCluster;
import io.relay.node.testing.AdminCluster.Cli;
import io.relay.node.testing.NodeProcess;
import io.relay.node.testing.NodeYaml;
import io.relay.node.testing.Ports;
import io.relay.node.testing.RelayYaml;
import io.relay.node.testing.Tools;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code relayctl queue} and {@code relayctl cluster} against two real nodes whose
 * upstream answers 451 to every RCPT, so the mail stays deferred (minimal backoff 5 min:
 * nothing is retried by itself during the test): summary and list count what was sent;
 * hold keeps exactly the selected messages from a forced retry; release brings them back;
 * delete removes exactly the selected ones, which never arrive once the upstream accepts,
 * while {@code retry --all} delivers the rest at once; cluster status lists both members;
 * {@code --json} parses; a wrong token is 401; {@code cluster drain} makes a node leave.
 */
class QueueAdminEndToEndTest {
    private static final String TOKEN = "e2e-queue-admin-token-77c1e0";
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final List<AiosmtpdUpstream> upstreams = new ArrayList<>();
    private AdminCluster cluster;
    private List<NodeProcess> nodes = List.of();
    /** The relayhost's upstream, and the one b.example is routed to by transport_maps. */
    private int upstreamPort;
    private int partnerPort;
    private final int[] healthPorts = new int[2];

    @AfterEach
    void stop(TestInfo test) throws InterruptedException {
        pool.shutdownNow();
        upstreams.forEach(AiosmtpdUpstream::close);
        if (cluster != null) {
            cluster.stop(Path.of("target", "queue-admin-e2e"));
        }
    }

    @Test
    void queueOperationsMoveAndDeleteExactlyTheSelectedDeferredMessages(@TempDir Path dir) throws Exception {
        Tools.requirePythonModule("aiosmtpd");
        long started = System.nanoTime();
        cluster = new AdminCluster(dir, TOKEN);
        upstreamPort = Ports.free();
        partnerPort = Ports.free();
        List<AiosmtpdUpstream> failing = failingUpstreams(dir);
        startCluster(dir);
        String relayhost = "[127.0.0.1]:" + upstreamPort;
        String partner = "[127.0.0.1]:" + partnerPort;

        // 10 messages through both nodes: 6 to a.example, 4 to b.example; 3 from a second sender
        Map<String, String> tagOf = new LinkedHashMap<>();
        for (int i = 0; i < 10; i++) {
            String rcpt = "user" + i + "@" + (i < 6 ? "a.example" : "b.example");
            String sender = i % 3 == 0 ? "ops@client.test" : "app@client.test";
            tagOf.put(send(nodes.get(i % 2).smtpPort(), sender, rcpt, "qa-" + i), "qa-" + i);
        }
        assertEquals(10, tagOf.size());
        List<String> ids = new ArrayList<>(tagOf.keySet());
        awaitTrue("all 10 deferred once", Duration.ofSeconds(60), () -> {
            JsonNode l = json(0, "queue", "list", "--state", "deferred", "--limit", "0");
            return l.get("matched").asInt() == 10;
        });

        // summary: qshape-like counts match what was sent, by the routed next hop
        // (a.example by the relayhost, b.example by its transport_maps entry)
        JsonNode summary = json(1, "queue", "summary");
        assertEquals(10, summary.get("total").asInt());
        Map<String, Integer> perHop = new LinkedHashMap<>();
        summary.get("rows").forEach(r -> perHop.put(r.get("nexthop").asText(), r.get("total").asInt()));
        assertEquals(Map.of("TOTAL", 10, relayhost, 6, partner, 4), perHop);
        assertEquals(10, summary.get("rows").get(0).get("counts").get(0).asInt(), "all in the 0-5m bucket");
        Cli table = ctl(0, "queue", "summary");
        assertEquals(0, table.code(), table.toString());
        assertTrue(table.out().lines().anyMatch(l -> l.matches(java.util.regex.Pattern.quote(relayhost)
                + "\\s+6\\s+6\\s+0\\s+0\\s+0\\s+0\\s+0")), table.out());

        // list: filters, ids and the table
        Set<String> listed = idsOf(json(1, "queue", "list", "--state", "deferred", "--limit", "0"));
        assertEquals(Set.copyOf(ids), listed);
        assertEquals(4, json(0, "queue", "list", "--nexthop", partner).get("matched").asInt());
        assertEquals(0, json(0, "queue", "list", "--nexthop", "b.example").get("matched").asInt(),
                "the recipient domain is not the next hop");
        assertEquals(4, json(0, "queue", "list", "--sender", "ops@client.test").get("matched").asInt());
        JsonNode limited = json(0, "queue", "list", "--limit", "3");
        assertEquals(3, limited.get("messages").size());
        assertEquals(10, limited.get("matched").asInt());
        Cli listTable = ctl(1, "queue", "list", "--state", "deferred");
        assertTrue(listTable.out().lines().anyMatch(l -> l.startsWith(ids.get(0)) && l.contains("deferred")
                && l.contains("451")), listTable.out());
        JsonNode shown = json(1, "queue", "show", ids.get(0));
        assertEquals("ops@client.test", shown.get("sender").asText());
        assertEquals(1, shown.get("attempts").asInt());
        assertTrue(shown.get("lastReason").asText().contains("451"), shown.toString());
        assertTrue(JSON.writeValueAsString(shown.get("headers")).contains("X-Test-Tag: qa-0"), shown.toString());
        Cli missing = ctl(0, "queue", "show", "0000000000NOSUCH");
        assertEquals(1, missing.code(), missing.toString());
        assertTrue(missing.err().contains("no such message"), missing.err());

        // hold 3 selected ids: exactly those are held, and a forced retry of all skips them
        List<String> held = List.of(ids.get(1), ids.get(4), ids.get(7));
        Cli hold = ctl(0, "queue", "hold", held.get(0), held.get(1), held.get(2));
        assertEquals(0, hold.code(), hold.toString());
        assertEquals("held 3 of 3 selected messages", hold.out().strip());
        assertEquals(Set.copyOf(held), idsOf(json(1, "queue", "list", "--state", "hold")));
        assertEquals(7, json(1, "queue", "list", "--state", "deferred").get("matched").asInt());
        JsonNode retried = json(1, "queue", "retry", "--all");
        assertEquals(10, retried.get("selected").asInt());
        assertEquals(7, retried.get("touched").asInt(), "held messages are not retried");
        awaitTrue("the 7 not held attempted again", Duration.ofSeconds(30), () -> attempts(0, 2).size() == 7);
        Thread.sleep(1000);
        assertEquals(Set.copyOf(held), attempts(1, 1), "held messages were not attempted");

        // release: back to deferred, nothing held
        Cli release = ctl(1, "queue", "release", held.get(0), held.get(1), held.get(2));
        assertEquals("released 3 of 3 selected messages", release.out().strip());
        assertEquals(0, json(0, "queue", "list", "--state", "hold").get("matched").asInt());
        assertEquals(10, json(0, "queue", "list", "--state", "deferred").get("matched").asInt());

        // delete 2: exactly those are gone
        List<String> deleted = List.of(ids.get(2), ids.get(8));
        Cli delete = ctl(1, "queue", "delete", deleted.get(0), deleted.get(1));
        assertEquals(0, delete.code(), delete.toString());
        assertEquals("deleted 2 of 2 selected messages", delete.out().strip());
        Set<String> left = idsOf(json(0, "queue", "list", "--limit", "0"));
        Set<String> expectedLeft = new HashSet<>(ids);
        expectedLeft.removeAll(deleted);
        assertEquals(expectedLeft, left);

        // the upstream comes back: retry --all delivers the 8 at once (the backoff is 5-10 min)
        failing.forEach(AiosmtpdUpstream::close);
        try (Upstreams up = goodUpstreams(dir)) {
            long t0 = System.nanoTime();
            Cli retry = ctl(0, "queue", "retry", "--all");
            assertEquals("requeued 8 of 8 selected messages", retry.out().strip());
            awaitTrue("8 arrived", Duration.ofSeconds(60), () -> arrivedTags(up).size() >= 8);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("retry --all to 8 arrivals: %d ms%n", ms);
            Thread.sleep(2000);
            Set<String> arrived = arrivedTags(up);
            Set<String> expectedTags = new HashSet<>();
            expectedLeft.forEach(id -> expectedTags.add(tagOf.get(id)));
            assertEquals(expectedTags, arrived, "exactly the messages not deleted arrived");
            assertEquals(8, up.messages().size(), "each once");
            awaitTrue("queue empty", Duration.ofSeconds(20),
                    () -> json(1, "queue", "summary").get("total").asInt() == 0);
        }

        // cluster status from either node lists both members
        JsonNode status = json(1, "cluster", "status");
        assertEquals(2, status.get("size").asInt());
        Set<String> admins = new HashSet<>();
        status.get("members").forEach(m -> admins.add(m.path("admin").asText()));
        assertEquals(Set.of("127.0.0.1:" + cluster.adminPort(0), "127.0.0.1:" + cluster.adminPort(1)), admins, status.toString());
        int partitions = 0;
        for (JsonNode m : status.get("members")) {
            partitions += m.get("partitions").asInt();
            assertEquals("ready", m.get("readiness").asText(), status.toString());
        }
        assertEquals(271, partitions);
        Cli statusTable = ctl(0, "cluster", "status");
        assertTrue(statusTable.out().contains("2 members"), statusTable.out());
        assertEquals(2, statusTable.out().lines().filter(l -> l.contains(" ready")).count(), statusTable.out());

        // usage errors exit 2, --help exits 0
        assertEquals(2, ctl(0, "queue", "hold").code());
        assertEquals(2, ctl(0, "queue", "list", "--state", "frozen").code());
        for (String[] help : new String[][] {{"queue", "--help"}, {"queue", "summary", "--help"},
                {"queue", "list", "--help"}, {"queue", "show", "--help"}, {"queue", "hold", "--help"},
                {"queue", "release", "--help"}, {"queue", "delete", "--help"}, {"queue", "retry", "--help"},
                {"cluster", "--help"}, {"cluster", "status", "--help"}, {"cluster", "drain", "--help"}}) {
            Cli h = ctl(0, help);
            assertEquals(0, h.code(), String.join(" ", help));
            assertTrue(h.out().contains("Usage: relayctl " + help[0]), h.out());
        }

        // a wrong or missing token: 401 on the queue and cluster endpoints
        cluster.assertUnauthorized(0, "{\"all\":true}", new String[] {null, "Bearer wrong-token-0000000000"},
                new String[][] {{"GET", "/admin/v1/queue"}, {"GET", "/admin/v1/queue/summary"},
                        {"POST", "/admin/v1/queue/delete"}, {"GET", "/admin/v1/cluster"},
                        {"POST", "/admin/v1/cluster/drain"}});
        Path wrong = Files.writeString(dir.resolve("wrong.token"), "wrong-token-0000000000");
        Cli denied = AdminCluster.runInProcess(Map.of("RELAYCTL_NODE", "127.0.0.1:" + cluster.adminPort(0),
                "RELAYCTL_TOKEN_FILE", wrong.toString()), "queue", "summary");
        assertEquals(1, denied.code());
        assertTrue(denied.err().contains("401 unauthorized"), denied.err());

        String logs = nodes.get(0).stderr() + Files.readString(nodes.get(0).dir().resolve("node.out"))
                + nodes.get(1).stderr() + Files.readString(nodes.get(1).dir().resolve("node.out"));
        assertTrue(logs.contains(deleted.get(0) + ": removed by 127.0.0.1:"), "audit line of the delete");
        assertTrue(!logs.contains(TOKEN));

        // cluster drain: node B drains, leaves the cluster and exits 0; A sees one member
        Cli drain = ctl(0, "cluster", "drain", "127.0.0.1:" + cluster.adminPort(1));
        assertEquals(0, drain.code(), drain.toString());
        assertTrue(drain.out().contains("draining"), drain.out());
        assertEquals(0, nodes.get(1).awaitExit(Duration.ofSeconds(60)), "node B exits 0 after its drain");
        awaitTrue("A sees one member", Duration.ofSeconds(30),
                () -> json(0, "cluster", "status").get("size").asInt() == 1);
        System.out.printf("queue admin e2e took %d s%n", (System.nanoTime() - started) / 1_000_000_000);
    }

    /**
     * Holds and deletes outlive a kill -9 of both nodes: 12 deferred messages (8 by the
     * relayhost, 4 by b.example's transport), the 4 at the transport's next hop held by a
     * {@code --nexthop} selection and 2 more by id, 2 deleted; relay_queue_messages counts
     * the held ones. Both nodes are killed and restarted (a new cluster: the spools put back
     * what they owe). The 6 are still held (and counted), the deleted 2 do not come back;
     * with both upstreams good, retry delivers only the 4 neither held nor deleted; release
     * and retry deliver the 6; every message arrives exactly once, the deleted never.
     */
    @Test
    void holdsAndDeletesOutliveAKillOfBothNodes(@TempDir Path dir) throws Exception {
        Tools.requirePythonModule("aiosmtpd");
        Tools.require(Tools.PROMTOOL);
        cluster = new AdminCluster(dir, TOKEN);
        upstreamPort = Ports.free();
        partnerPort = Ports.free();
        List<AiosmtpdUpstream> failing = failingUpstreams(dir);
        startCluster(dir);
        String partner = "[127.0.0.1]:" + partnerPort;

        Map<String, String> tagOf = new LinkedHashMap<>();
        for (int i = 0; i < 12; i++) {
            String rcpt = "user" + i + "@" + (i < 8 ? "a.example" : "b.example");
            tagOf.put(send(nodes.get(i % 2).smtpPort(), "app@client.test", rcpt, "hr-" + i), "hr-" + i);
        }
        List<String> ids = new ArrayList<>(tagOf.keySet());
        awaitTrue("all 12 deferred once", Duration.ofSeconds(60),
                () -> json(0, "queue", "list", "--state", "deferred", "--limit", "0").get("matched").asInt() == 12);

        Cli byHop = ctl(1, "queue", "hold", "--nexthop", partner);
        assertEquals("held 4 of 4 selected messages", byHop.out().strip(), byHop.toString());
        Cli byId = ctl(0, "queue", "hold", ids.get(0), ids.get(1));
        assertEquals("held 2 of 2 selected messages", byId.out().strip(), byId.toString());
        Set<String> held = new HashSet<>(List.of(ids.get(0), ids.get(1)));
        held.addAll(ids.subList(8, 12));
        List<String> deleted = List.of(ids.get(2), ids.get(3));
        Cli delete = ctl(1, "queue", "delete", deleted.get(0), deleted.get(1));
        assertEquals("deleted 2 of 2 selected messages", delete.out().strip(), delete.toString());
        assertEquals(held, idsOf(json(1, "queue", "list", "--state", "hold", "--limit", "0")));
        awaitTrue("relay_queue_messages counts 6 held, 4 deferred", Duration.ofSeconds(20),
                () -> gaugeSum("hold") == 6 && gaugeSum("deferred") == 4);
        Path scrape = Files.writeString(dir.resolve("scrape.prom"), scrape(0));
        String lint = promtool(scrape);
        assertTrue(lint.startsWith("exit 0"), "promtool check metrics: " + lint);

        // both nodes die at once: nothing leaves gracefully, the cluster store is gone
        for (NodeProcess n : nodes) {
            n.kill9();
        }
        for (NodeProcess n : nodes) {
            n.restart();
        }
        NodeProcess.awaitMembers(nodes, 2, Duration.ofSeconds(120));
        awaitTrue("the 10 not deleted are back", Duration.ofSeconds(60),
                () -> json(0, "queue", "summary").get("total").asInt() == 10);
        assertEquals(held, idsOf(json(1, "queue", "list", "--state", "hold", "--limit", "0")), "held after the kill");
        Set<String> expectedLeft = new HashSet<>(ids);
        expectedLeft.removeAll(deleted);
        assertEquals(expectedLeft, idsOf(json(0, "queue", "list", "--limit", "0")), "deleted stay deleted");
        awaitTrue("relay_queue_messages still counts 6 held", Duration.ofSeconds(20), () -> gaugeSum("hold") == 6);

        failing.forEach(AiosmtpdUpstream::close);
        try (Upstreams up = goodUpstreams(dir)) {
            JsonNode retried = json(0, "queue", "retry", "--all");
            assertEquals(10, retried.get("selected").asInt());
            Set<String> free = new HashSet<>(expectedLeft);
            free.removeAll(held);
            Set<String> freeTags = new HashSet<>();
            free.forEach(id -> freeTags.add(tagOf.get(id)));
            awaitTrue("the 4 neither held nor deleted arrived", Duration.ofSeconds(60),
                    () -> arrivedTags(up).size() >= 4);
            Thread.sleep(3000);
            assertEquals(freeTags, arrivedTags(up), "held messages are not delivered while held");
            assertEquals(held, idsOf(json(1, "queue", "list", "--limit", "0")));

            Cli release = ctl(1, "queue", "release", "--all");
            assertEquals("released 6 of 6 selected messages", release.out().strip(), release.toString());
            ctl(0, "queue", "retry", "--all");
            awaitTrue("all 10 arrived", Duration.ofSeconds(60), () -> arrivedTags(up).size() >= 10);
            Thread.sleep(2000);
            Set<String> expectedTags = new HashSet<>();
            expectedLeft.forEach(id -> expectedTags.add(tagOf.get(id)));
            assertEquals(expectedTags, arrivedTags(up), "exactly the not deleted ones arrived");
            assertEquals(10, up.messages().size(), "each once");
            awaitTrue("queue empty", Duration.ofSeconds(20),
                    () -> json(1, "queue", "summary").get("total").asInt() == 0);
            awaitTrue("gauges back to 0", Duration.ofSeconds(20), () -> gaugeSum("hold") == 0);
        }
    }

    /**
     * A measurement, not part of the suite: {@code -Drelay.bench.queueMessages=N} queues N
     * small messages through both nodes with both upstreams down (connection refused), then
     * times {@code relayctl queue hold --all}, {@code release --all} and {@code delete --all}
     * and checks the queue is empty after the delete.
     */
    @Test
    void bulkOperationsOnAManyMessageQueue(@TempDir Path dir) throws Exception {
        int total = Integer.getInteger("relay.bench.queueMessages", 0);
        org.junit.jupiter.api.Assumptions.assumeTrue(total > 0, "set -Drelay.bench.queueMessages=N to measure");
        cluster = new AdminCluster(dir, TOKEN);
        upstreamPort = Ports.free(); // nothing listens: every attempt is refused
        partnerPort = Ports.free();
        startCluster(dir);
        long t0 = System.nanoTime();
        List<Future<?>> loads = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            io.relay.node.testing.LoadClient load = new io.relay.node.testing.LoadClient("127.0.0.1",
                    nodes.get(i).smtpPort(), "a.example");
            String prefix = "bulk" + i + "-";
            loads.add(pool.submit(() -> {
                load.run(prefix, total / 2, 8, 100, 512, Duration.ofMinutes(20));
                return null;
            }));
        }
        for (Future<?> f : loads) {
            f.get();
        }
        System.out.printf("bulk: %d messages accepted in %d s%n", total, (System.nanoTime() - t0) / 1_000_000_000);
        awaitTrue("all queued", Duration.ofMinutes(5),
                () -> json(0, "queue", "summary").get("total").asInt() >= total);
        for (String[] op : new String[][] {{"queue", "hold", "--all"}, {"queue", "release", "--all"},
                {"queue", "delete", "--all"}}) {
            long start = System.nanoTime();
            Cli r = ctl(0, op);
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(0, r.code(), r.toString());
            System.out.printf("bulk: relayctl %s on %d messages: %d ms (%s)%n", String.join(" ", op), total, ms,
                    r.out().strip());
        }
        awaitTrue("queue empty", Duration.ofSeconds(60),
                () -> json(1, "queue", "summary").get("total").asInt() == 0);
    }

    private String scrape(int node) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + healthPorts[node]
                + "/metrics")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        return r.body();
    }

    /** relay_queue_messages{state=...} summed over both nodes. */
    private long gaugeSum(String state) throws Exception {
        long sum = 0;
        String prefix = "relay_queue_messages{state=\"" + state + "\"} ";
        for (int i = 0; i < 2; i++) {
            for (String line : scrape(i).split("\n")) {
                if (line.startsWith(prefix)) {
                    sum += (long) Double.parseDouble(line.substring(prefix.length()).strip());
                }
            }
        }
        return sum;
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

    private Set<String> attempts(int node, int n) throws Exception {
        Set<String> out = new HashSet<>();
        for (JsonNode m : json(node, "queue", "list", "--limit", "0").get("messages")) {
            if (m.get("attempts").asInt() == n) {
                out.add(m.get("id").asText());
            }
        }
        return out;
    }

    private static Set<String> idsOf(JsonNode listing) {
        Set<String> out = new HashSet<>();
        listing.get("messages").forEach(m -> out.add(m.get("id").asText()));
        return out;
    }

    /** Both upstreams answering 451 to every RCPT. */
    private List<AiosmtpdUpstream> failingUpstreams(Path dir) throws IOException {
        List<AiosmtpdUpstream> out = new ArrayList<>();
        for (int port : new int[] {upstreamPort, partnerPort}) {
            Path work = Files.createDirectories(dir.resolve("failing-" + port + "-" + System.nanoTime()));
            out.add(AiosmtpdUpstream.builder(work).tempfailFirst(1_000_000).listen("127.0.0.1", port).start());
        }
        upstreams.addAll(out);
        return out;
    }

    /** Both upstreams back, accepting everything. */
    private Upstreams goodUpstreams(Path dir) throws IOException {
        List<AiosmtpdUpstream> out = new ArrayList<>();
        for (int port : new int[] {upstreamPort, partnerPort}) {
            Path work = Files.createDirectories(dir.resolve("good-" + port + "-" + System.nanoTime()));
            out.add(AiosmtpdUpstream.builder(work).listen("127.0.0.1", port).start());
        }
        upstreams.addAll(out);
        return new Upstreams(out);
    }

    record Upstreams(List<AiosmtpdUpstream> all) implements AutoCloseable {
        List<AiosmtpdUpstream.Received> messages() throws IOException {
            List<AiosmtpdUpstream.Received> out = new ArrayList<>();
            for (AiosmtpdUpstream u : all) {
                out.addAll(u.messages());
            }
            return out;
        }

        @Override
        public void close() {
            all.forEach(AiosmtpdUpstream::close);
        }
    }

    private static Set<String> arrivedTags(Upstreams up) throws IOException {
        Set<String> tags = new HashSet<>();
        for (AiosmtpdUpstream.Received r : up.messages()) {
            r.text().lines().filter(l -> l.startsWith("X-Test-Tag: ")).findFirst()
                    .ifPresent(l -> tags.add(l.substring(12).strip()));
        }
        return tags;
    }

    interface Check {
        boolean ok() throws Exception;
    }

    private static void awaitTrue(String what, Duration limit, Check check) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!check.ok()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not within " + limit);
            }
            Thread.sleep(200);
        }
    }

    private void startCluster(Path dir) throws Exception {
        cluster.start(dir, "qnode", true, (i, nodeDir, smtp, clusterPort, adminPort, members) -> {
            healthPorts[i] = Ports.free();
            return config(nodeDir, smtp, clusterPort, adminPort, healthPorts[i], members);
        });
        nodes = cluster.nodes();
    }

    private String config(Path dir, int smtp, int clusterPort, int adminPort, int healthPort, String members) {
        return new NodeYaml(dir, smtp, healthPort, clusterPort).with(RelayYaml.create()
                .hostname(dir.getFileName() + ".relay.test").trust("127.0.0.0/8").relayhost(upstreamPort)
                .block("smtp", "transport-maps:\n  b.example: \"smtp:[127.0.0.1]:" + partnerPort + "\"")
                .backoff("300s", "600s").drain("0s", "5s").cluster("queue-admin-e2e", members)
                .admin(adminPort, cluster.tokenFile()).text());
    }

    /** relayctl's entry point in this JVM (AdminEndToEndTest runs it as its own process too). */
    private Cli ctl(int node, String... args) {
        return AdminCluster.runInProcess(cluster.env(node), args);
    }

    /** {@code relayctl --json ...}, parsed; fails the test on a non-zero exit. */
    private JsonNode json(int node, String... args) throws IOException {
        String[] all = new String[args.length + 1];
        all[0] = "--json";
        System.arraycopy(args, 0, all, 1, args.length);
        Cli r = ctl(node, all);
        assertEquals(0, r.code(), String.join(" ", args) + ": " + r);
        return JSON.readTree(r.out());
    }

    /** One message over SMTP; answers the queue id from the 250 reply to end-of-DATA. */
    private static String send(int port, String from, String to, String tag) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = s.getOutputStream();
            expect(in, 220);
            cmd(out, "EHLO client.test");
            expect(in, 250);
            cmd(out, "MAIL FROM:<" + from + ">");
            expect(in, 250);
            cmd(out, "RCPT TO:<" + to + ">");
            expect(in, 250);
            cmd(out, "DATA");
            expect(in, 354);
            cmd(out, "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: queue admin " + tag + "\r\nX-Test-Tag: " + tag
                    + "\r\n\r\nbody of " + tag + "\r\n.");
            String reply = expect(in, 250);
            cmd(out, "QUIT");
            // "250 2.0.0 Ok: queued as ID"
            String[] words = reply.strip().split(" ");
            return words[words.length - 1];
        }
    }

    private static void cmd(OutputStream out, String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static String expect(BufferedReader in, int code) throws IOException {
        while (true) {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed");
            }
            if (line.length() < 4 || line.charAt(3) != '-') {
                if (Integer.parseInt(line.substring(0, 3)) != code) {
                    throw new IOException("expected " + code + ", got " + line);
                }
                return line;
            }
        }
    }
}
