package io.relay.deploy;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.model.ContainerNetwork;
import com.github.dockerjava.api.model.Network.Ipam;
import io.relay.node.testing.LoadClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.images.builder.Transferable;
import org.testcontainers.lifecycle.Startables;

/**
 * The compose demo's shape as real containers (deploy/compose.yaml): three relay nodes from
 * the image that deploy/Dockerfile builds, haproxy with deploy/compose/haproxy.cfg, and the
 * test upstream (deploy/docker/upstream.py), on one Docker network with the addresses of
 * deploy/compose/relay.yaml (their third octet moved to 58 so the suite can run beside a
 * running demo). Nodes are killed, stopped, started, disconnected and reconnected through
 * the Docker API; they keep their container, spool and address.
 */
final class ContainerCluster implements AutoCloseable {
    static final String NET = "172.28.58.";
    private static final String COMPOSE_NET = "172.28.57.";
    static final String HAPROXY_IP = NET + "10";
    /** Size of each load message (headers and body), as the suite has always sent. */
    static final int MESSAGE_BYTES = 2048;
    static final String UPSTREAM_IP = NET + "20";
    /** The next hop of the suite's live mail (relayhost), as the relay names it (port 25 goes unsaid). */
    static final String LIVE_NEXT_HOP = "[" + UPSTREAM_IP + "]";
    /** The upstream of the deferred backlog (resources/backlog_upstream.py), to which deferred.test is routed. */
    static final String BACKLOG_IP = NET + "21";
    static final String BACKLOG_NEXT_HOP = "[" + BACKLOG_IP + "]";
    static final String BACKLOG_DOMAIN = "deferred.test";
    private static final String ADMIN_TOKEN = "deploy-e2e-admin-token-3b7e";
    /** The relay user of deploy/Dockerfile (RELAY_UID), who must own the admin token file. */
    private static final int RELAY_UID = 10025;
    /** An admin API call from inside the network: python's urllib in the upstream container. */
    private static final String ADMIN_CALL = String.join("\n",
            "import sys, urllib.request",
            "url, method, token, body = sys.argv[1:5]",
            "req = urllib.request.Request(url, data=body.encode() if body else None, method=method,",
            "    headers={'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})",
            "sys.stdout.write(urllib.request.urlopen(req, timeout=180).read().decode())");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern MEMBERS = Pattern.compile("(?m)^relay_cluster_members(?:\\{[^}]*})? ([0-9.]+)");

    private final Path deployDir;
    private final Network network;
    private final List<GenericContainer<?>> relays = new ArrayList<>();
    private final GenericContainer<?> haproxy;
    private final ImageFromDockerfile image;
    private final GenericContainer<?> upstream;
    private final GenericContainer<?> backlogUpstream;
    private final DockerClient docker = DockerClientFactory.instance().client();
    private final long t0 = System.nanoTime();

    ContainerCluster(Path deployDir) throws IOException {
        this.deployDir = deployDir;
        String relayYaml = withBacklog(Files.readString(deployDir.resolve("compose/relay.yaml")).replace(COMPOSE_NET,
                NET));
        String haproxyCfg = Files.readString(deployDir.resolve("compose/haproxy.cfg")).replace(COMPOSE_NET, NET);
        Path jar = deployDir.resolveSibling("relay-node/target/relay-node.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: build relay-node first (mvn package, or the reactor)");
        }
        removeStaleNetwork();
        network = Network.builder().createNetworkCmdModifier(cmd -> cmd.withIpam(new Ipam()
                .withConfig(new Ipam.Config().withSubnet(NET + "0/24").withGateway(NET + "1")))).build();

        image = new ImageFromDockerfile("relay-node-test", false)
                .withFileFromPath("Dockerfile", deployDir.resolve("Dockerfile"))
                .withFileFromPath("relay-node/target/relay-node.jar", jar)
                .withFileFromPath("deploy/docker/relay-entrypoint.sh", deployDir.resolve("docker/relay-entrypoint.sh"))
                .withFileFromPath("deploy/docker/relay.yaml", deployDir.resolve("docker/relay.yaml"))
                .withBuildArg("BASE_IMAGE", DockerRequirement.BASE_IMAGE);
        for (int i = 1; i <= 3; i++) {
            String name = "relay" + i;
            String ip = NET + (10 + i);
            relays.add(new GenericContainer<>(image)
                    .withNetwork(network)
                    .withNetworkAliases(name)
                    .withCreateContainerCmdModifier(cmd -> cmd.withHostName(name).withIpv4Address(ip))
                    // C1 only and the serial collector: a JVM start costs less CPU on a shared CI machine
                    .withEnv("JAVA_OPTS", "-Xmx384m -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
                    .withCopyToContainer(Transferable.of(relayYaml, 0644), "/etc/relay/relay.yaml")
                    .withCopyToContainer(ownedByRelay(ADMIN_TOKEN + "\n"), "/etc/relay/admin.token")
                    .waitingFor(Wait.forLogMessage(".*relay node .* up: smtp.*\\n", 1)
                            .withStartupTimeout(Duration.ofSeconds(180))));
        }
        upstream = new GenericContainer<>(DockerRequirement.BASE_IMAGE)
                .withNetwork(network)
                .withNetworkAliases("upstream")
                .withCreateContainerCmdModifier(cmd -> cmd.withHostName("upstream").withIpv4Address(UPSTREAM_IP))
                .withCopyToContainer(Transferable.of(Files.readString(deployDir.resolve("docker/upstream.py")), 0755),
                        "/usr/local/bin/upstream.py")
                .withCommand("/usr/bin/python3", "/usr/local/bin/upstream.py", "/var/mail/upstream", "25")
                .waitingFor(Wait.forLogMessage(".*upstream: listening.*\\n", 1));
        String backlogScript;
        try (var in = ContainerCluster.class.getResourceAsStream("/backlog_upstream.py")) {
            backlogScript = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        backlogUpstream = new GenericContainer<>(DockerRequirement.BASE_IMAGE)
                .withNetwork(network)
                .withNetworkAliases("backlog")
                .withCreateContainerCmdModifier(cmd -> cmd.withHostName("backlog").withIpv4Address(BACKLOG_IP))
                .withCopyToContainer(Transferable.of(backlogScript, 0755), "/usr/local/bin/backlog_upstream.py")
                .withCommand("/bin/sh", "-c", "mkdir -p /var/mail/backlog && touch /var/mail/backlog/defer && exec "
                        + "/usr/bin/python3 /usr/local/bin/backlog_upstream.py /var/mail/backlog 25")
                .waitingFor(Wait.forLogMessage(".*backlog upstream: listening.*\\n", 1));
        haproxy = new GenericContainer<>(DockerRequirement.BASE_IMAGE)
                .withNetwork(network)
                .withNetworkAliases("haproxy")
                .withCreateContainerCmdModifier(cmd -> cmd.withHostName("haproxy").withIpv4Address(HAPROXY_IP))
                .withCopyToContainer(Transferable.of(haproxyCfg, 0644), "/etc/haproxy/compose.cfg")
                .withCommand("/usr/sbin/haproxy", "-db", "-f", "/etc/haproxy/compose.cfg")
                .withExposedPorts(25, 587, 8404)
                .waitingFor(Wait.forListeningPorts(25, 587, 8404));
    }

    /**
     * compose/relay.yaml with what the deferred backlog needs (issue 17): {@code deferred.test}
     * routed to the backlog's upstream; a backoff of 30-60 minutes, so that the 100,000
     * deferred messages are not tried again during the suite (with the demo's 5-30 s they would
     * be a retry storm that measures only the CPU); and the admin API, through which the suite
     * counts the backlog and retries it as {@code relayctl queue} does. The live mail shares
     * that backoff: {@link #report} flushes its next hop while mail is missing. Each edit must
     * match the file, so a file that drifts fails the suite instead of testing something else.
     */
    private static String withBacklog(String yaml) {
        yaml = edit(yaml, "  minimal-backoff-time: 5s\n  maximal-backoff-time: 30s\n",
                "  minimal-backoff-time: 30m\n  maximal-backoff-time: 60m\n");
        yaml = edit(yaml, "  tls-security-level: none\n", "  tls-security-level: none\n  transport-maps:\n    "
                + BACKLOG_DOMAIN + ": \"smtp:" + BACKLOG_NEXT_HOP + ":25\"\n");
        return yaml + "admin:\n  listen: 0.0.0.0:8025\n  token-file: /etc/relay/admin.token\n";
    }

    private static String edit(String text, String from, String to) {
        if (!text.contains(from)) {
            throw new IllegalStateException("compose/relay.yaml no longer contains '" + from.strip()
                    + "'; update ContainerCluster.withBacklog");
        }
        return text.replace(from, to);
    }

    /** A file owned by the image's relay user, mode 600: the node refuses a token file others may read. */
    private static Transferable ownedByRelay(String content) {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        return new Transferable() {
            @Override
            public long getSize() {
                return bytes.length;
            }

            @Override
            public byte[] getBytes() {
                return bytes;
            }

            @Override
            public int getFileMode() {
                return 0100600;
            }

            @Override
            public void transferTo(TarArchiveOutputStream tar, String destination) {
                TarArchiveEntry entry = new TarArchiveEntry(destination);
                entry.setSize(bytes.length);
                entry.setMode(getFileMode());
                entry.setIds(RELAY_UID, RELAY_UID);
                try {
                    tar.putArchiveEntry(entry);
                    tar.write(bytes);
                    tar.closeArchiveEntry();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        };
    }

    /**
     * An earlier run killed before its close() (a stopped build, a machine restored from a
     * snapshot) leaves its network behind, holding this subnet: Docker then refuses to create
     * ours ("Pool overlaps with other one on this address space"). Networks that Testcontainers
     * made on this subnet are removed with the containers still attached; any other network on
     * it is someone else's, and the suite stops with a message that names it.
     */
    private void removeStaleNetwork() {
        String subnet = NET + "0/24";
        for (com.github.dockerjava.api.model.Network n : docker.listNetworksCmd().exec()) {
            boolean onSubnet = n.getIpam() != null && n.getIpam().getConfig() != null
                    && n.getIpam().getConfig().stream().anyMatch(c -> subnet.equals(c.getSubnet()));
            if (!onSubnet) {
                continue;
            }
            if (n.getLabels() == null || !"true".equals(n.getLabels().get("org.testcontainers"))) {
                throw new IllegalStateException("docker network " + n.getName() + " already uses " + subnet
                        + ", which the container suite needs; remove it or stop what uses it");
            }
            // the containers of that run, running or exited, carry the network's session label
            String session = n.getLabels().get("org.testcontainers.sessionId");
            List<com.github.dockerjava.api.model.Container> left = session == null ? List.of()
                    : docker.listContainersCmd().withShowAll(true)
                            .withLabelFilter(Map.of("org.testcontainers.sessionId", session)).exec();
            for (var c : left) {
                docker.removeContainerCmd(c.getId()).withForce(true).withRemoveVolumes(true).exec();
            }
            docker.removeNetworkCmd(n.getId()).exec();
            phase("removed network " + n.getName() + " (" + subnet + ") and " + left.size()
                    + " containers left by an earlier run");
        }
    }

    void start() throws Exception {
        long t = System.nanoTime();
        String name = image.get();
        phase(String.format("image %s built from deploy/Dockerfile in %.1fs", name, (System.nanoTime() - t) / 1e9));
        t = System.nanoTime();
        Startables.deepStart(Stream.concat(Stream.of(upstream, backlogUpstream, haproxy), relays.stream())).join();
        phase(String.format("upstreams, haproxy and three relays started in %.1fs", (System.nanoTime() - t) / 1e9));
    }

    void phase(String what) {
        System.out.printf("[deploy +%5.1fs] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }

    LoadClient load() {
        return new LoadClient(haproxy.getHost(), haproxy.getMappedPort(25));
    }

    /** haproxy's SMTP port as published on this host: where the suite's clients send. */
    String lbHost() {
        return haproxy.getHost();
    }

    int lbSmtpPort() {
        return haproxy.getMappedPort(25);
    }

    String relayIp(int node) {
        return NET + (10 + node);
    }

    private String id(int node) {
        return relays.get(node - 1).getContainerId();
    }

    // --- what happens to nodes -------------------------------------------------------------

    /** SIGKILL: no drain, no shutdown hook (docker kill). */
    void kill(int node) {
        docker.killContainerCmd(id(node)).withSignal("KILL").exec();
    }

    /**
     * docker stop: SIGTERM (the image's STOPSIGNAL), then up to {@code grace} for the drain
     * before docker would SIGKILL; returns the node's exit code.
     */
    int stop(int node, Duration grace) {
        docker.stopContainerCmd(id(node)).withTimeout((int) grace.toSeconds()).exec();
        return inspect(node).getState().getExitCodeLong().intValue();
    }

    void start(int node) {
        docker.startContainerCmd(id(node)).exec();
    }

    boolean running(int node) {
        return Boolean.TRUE.equals(inspect(node).getState().getRunning());
    }

    /** Takes the node off the network: no packet in or out, as a cut cable or a lost AZ. */
    void disconnect(int node) {
        docker.disconnectFromNetworkCmd().withNetworkId(network.getId()).withContainerId(id(node)).exec();
    }

    boolean connected(int node) {
        return inspect(node).getNetworkSettings().getNetworks().values().stream()
                .anyMatch(n -> network.getId().equals(n.getNetworkID()));
    }

    /** Puts the node back on the network with its old address. */
    void reconnect(int node) {
        docker.connectToNetworkCmd().withNetworkId(network.getId()).withContainerId(id(node))
                .withContainerNetwork(new ContainerNetwork().withAliases("relay" + node)
                        .withIpamConfig(new ContainerNetwork.Ipam().withIpv4Address(relayIp(node))))
                .exec();
    }

    private InspectContainerResponse inspect(int node) {
        return docker.inspectContainerCmd(id(node)).exec();
    }

    /** Every node running and on the network; each sees 3 members and haproxy has all UP. */
    void heal(Duration timeout) throws Exception {
        for (int n = 1; n <= 3; n++) {
            if (!running(n)) {
                start(n);
            } else if (!connected(n)) {
                reconnect(n);
            }
        }
        awaitMembers(3, timeout, 1, 2, 3);
        awaitStatus("UP", timeout, 1, 2, 3);
    }

    // --- observations ------------------------------------------------------------------------

    /**
     * The cluster members each given node sees (its relay_cluster_members gauge), read from
     * inside the network (the upstream container's python fetches /metrics), -1 when unreachable.
     */
    Map<Integer, Integer> members(int... nodes) throws Exception {
        Map<Integer, Integer> out = new LinkedHashMap<>();
        for (int n : nodes) {
            ExecResult r = upstream.execInContainer("/usr/bin/python3", "-c",
                    "import urllib.request,sys;sys.stdout.write(urllib.request.urlopen('http://" + relayIp(n)
                            + ":8080/metrics',timeout=2).read().decode())");
            Matcher m = MEMBERS.matcher(r.getStdout());
            out.put(n, r.getExitCode() == 0 && m.find() ? (int) Double.parseDouble(m.group(1)) : -1);
        }
        return out;
    }

    void awaitMembers(int expected, Duration timeout, int... nodes) throws Exception {
        await("each of nodes " + java.util.Arrays.toString(nodes) + " to see " + expected + " members", timeout,
                () -> {
                    try {
                        return members(nodes).values().stream().allMatch(v -> v == expected) ? null : members(nodes);
                    } catch (Exception e) {
                        return e.toString();
                    }
                });
    }

    /** haproxy's view: {@code backend/server} to its status (UP, DOWN, ...), from the stats CSV. */
    Map<String, String> haproxyStatus() throws IOException {
        Map<String, String> out = new HashMap<>();
        java.net.URL url = java.net.URI.create("http://" + haproxy.getHost() + ":" + haproxy.getMappedPort(8404)
                + "/stats;csv").toURL();
        String csv;
        try (var in = url.openStream()) {
            csv = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        for (String line : csv.split("\n")) {
            String[] f = line.split(",", -1);
            if (f.length > 17 && f[1].startsWith("relay")) {
                out.put(f[0] + "/" + f[1], f[17]);
            }
        }
        return out;
    }

    /** Waits until both backends' entries of the given nodes have the status; returns how long it took. */
    Duration awaitStatus(String status, Duration timeout, int... nodes) throws Exception {
        long start = System.nanoTime();
        if (!haproxy.isRunning()) {
            throw new IllegalStateException("haproxy is not running: " + haproxy.getLogs());
        }
        await("haproxy to see nodes " + java.util.Arrays.toString(nodes) + " " + status, timeout, () -> {
            try {
                Map<String, String> s = haproxyStatus();
                for (int n : nodes) {
                    for (String b : List.of("relay_smtp/relay" + n, "relay_submission/relay" + n)) {
                        if (!s.getOrDefault(b, "").startsWith(status)) {
                            return s;
                        }
                    }
                }
                return null;
            } catch (IOException e) {
                return e.toString();
            }
        });
        return Duration.ofNanos(System.nanoTime() - start);
    }

    /** The node's mail log (log.file of compose/relay.yaml), one entry per line. */
    List<String> mailLog(int node) throws Exception {
        ExecResult r = relays.get(node - 1).execInContainer("cat", "/var/log/relay/mail.log");
        return r.getStdout().isEmpty() ? List.of() : List.of(r.getStdout().split("\n"));
    }

    /** The node's container output (its diagnostic log on stderr), for a failure's detail. */
    String logs(int node) {
        return relays.get(node - 1).getLogs();
    }

    // --- the queue through the admin API, and the backlog's upstream ----------------------------

    /**
     * One admin API call ({@code /admin/v1/...}) made from inside the network, to the first
     * relay that answers; fails with the last answer when none does.
     */
    JsonNode admin(String method, String path, String body) throws Exception {
        String last = "no relay running and connected";
        for (int n = 1; n <= 3; n++) {
            if (!running(n) || !connected(n)) {
                continue;
            }
            ExecResult r = upstream.execInContainer("/usr/bin/python3", "-c", ADMIN_CALL,
                    "http://" + relayIp(n) + ":8025" + path, method, ADMIN_TOKEN, body == null ? "" : body);
            if (r.getExitCode() == 0) {
                return JSON.readTree(r.getStdout());
            }
            String[] err = r.getStderr().strip().split("\n");
            last = "relay" + n + ": " + err[err.length - 1];
        }
        throw new IOException(method + " " + path + ": " + last);
    }

    /** The ids of the cluster's messages in {@code state} (null: any) with a recipient routed to {@code nextHop}. */
    List<String> queueIds(String state, String nextHop) throws Exception {
        String q = "/admin/v1/queue/ids?nexthop=" + java.net.URLEncoder.encode(nextHop, StandardCharsets.UTF_8)
                + (state == null ? "" : "&state=" + state);
        List<String> ids = new ArrayList<>();
        admin("GET", q, null).get("ids").forEach(id -> ids.add(id.asText()));
        return ids;
    }

    /** relayctl queue retry --nexthop: every message routed there is due now; answers how many were touched. */
    long retry(String nextHop) throws Exception {
        return admin("POST", "/admin/v1/queue/retry", JSON.createObjectNode().put("nexthop", nextHop).toString())
                .get("touched").asLong();
    }

    /** The backlog's upstream accepts from now on (it deferred every RCPT until now). */
    void acceptBacklog() throws Exception {
        ExecResult r = backlogUpstream.execInContainer("rm", "-f", "/var/mail/backlog/defer");
        if (r.getExitCode() != 0) {
            throw new IllegalStateException("could not switch the backlog's upstream to accept: " + r.getStderr());
        }
    }

    /** How often each recipient arrived at the backlog's upstream. */
    Map<String, Integer> backlogRecipients() throws Exception {
        ExecResult r = backlogUpstream.execInContainer("cat", "/var/mail/backlog/recipients.log");
        Map<String, Integer> out = new HashMap<>();
        for (String line : r.getStdout().split("\n")) {
            if (!line.isBlank()) {
                out.merge(line.strip().toLowerCase(java.util.Locale.ROOT), 1, Integer::sum);
            }
        }
        return out;
    }

    /** How often each X-Test-Tag with the prefix arrived at the upstream. */
    Map<String, Integer> received(String prefix) throws Exception {
        ExecResult r = upstream.execInContainer("cat", "/var/mail/upstream/received.log");
        Map<String, Integer> out = new HashMap<>();
        for (String line : r.getStdout().split("\n")) {
            String[] f = line.split(" ");
            if (f.length >= 2 && f[1].startsWith(prefix + "-")) {
                out.merge(f[1], 1, Integer::sum);
            }
        }
        return out;
    }

    /**
     * Waits until every acknowledged tag arrived (or the timeout), prints the grep-able line
     * {@code deploy-e2e NAME: sent=.. 250s=.. received=.. lost=.. duplicates=..} and returns
     * the counts.
     */
    Counts report(String name, LoadClient load, String prefix, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextFlush = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Map<String, Integer> arrived = received(prefix);
        while (!arrived.keySet().containsAll(load.acknowledged().keySet()) && System.nanoTime() < deadline) {
            if (System.nanoTime() > nextFlush) {
                flushLive();
                nextFlush = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            }
            Thread.sleep(500);
            arrived = received(prefix);
        }
        Map<String, Integer> seen = arrived;
        List<String> lost = load.acknowledged().keySet().stream().filter(t -> !seen.containsKey(t)).sorted().toList();
        int duplicates = seen.values().stream().mapToInt(c -> c - 1).sum();
        Counts c = new Counts(load.sent(), load.acknowledged().size(), seen.size(), lost.size(), duplicates,
                load.failed().size(), load.refused().size(), lost);
        System.out.printf("deploy-e2e %s: sent=%d, 250s=%d, received=%d, lost=%d, duplicates=%d "
                        + "(failed=%d, refused=%d, sessions=%d)%n", name, c.sent, c.acked, c.received, c.lost,
                c.duplicates, c.failed, c.refused, load.greetedSessions());
        if (!load.errors().isEmpty()) {
            System.out.println("  client errors: " + load.errors().stream().limit(6).toList());
        }
        return c;
    }

    record Counts(int sent, int acked, int received, int lost, int duplicates, int failed, int refused,
                  List<String> lostTags) {
    }

    private int liveFlushes;
    private long liveFlushed;

    /**
     * The operator's {@code relayctl queue retry --nexthop} of the live mail's next hop: live
     * mail deferred during a fault waits out the suite's long backoff otherwise. Counted and
     * printed, so a report shows when live mail needed it.
     */
    private void flushLive() {
        try {
            long touched = retry(LIVE_NEXT_HOP);
            liveFlushes++;
            liveFlushed += touched;
            phase("flush of the live next hop " + LIVE_NEXT_HOP + " touched " + touched + " (so far " + liveFlushes
                    + " flushes, " + liveFlushed + " messages)");
        } catch (Exception e) {
            phase("flush of the live next hop not possible now: " + e.getMessage());
        }
    }

    static void await(String what, Duration timeout, Supplier<Object> notYet) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Object last = notYet.get();
        while (last != null) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + "s waiting for " + what
                        + "; last seen: " + last);
            }
            TimeUnit.MILLISECONDS.sleep(250);
            last = notYet.get();
        }
    }

    /** Keeps each container's output and each node's mail log under target/deploy-e2e for a post-mortem. */
    void keepLogs(Path dir) {
        try {
            Files.createDirectories(dir);
            for (int n = 1; n <= 3; n++) {
                Files.writeString(dir.resolve("relay" + n + ".out"), logs(n));
                if (running(n)) {
                    Files.write(dir.resolve("relay" + n + "-mail.log"), mailLog(n));
                }
            }
            Files.writeString(dir.resolve("haproxy.out"), haproxy.getLogs());
            Files.writeString(dir.resolve("upstream-received.log"),
                    upstream.execInContainer("cat", "/var/mail/upstream/received.log").getStdout());
            Files.writeString(dir.resolve("backlog-upstream.out"), backlogUpstream.getLogs());
        } catch (Exception e) {
            System.out.println("could not keep the container logs: " + e);
        }
    }

    @Override
    public void close() {
        for (GenericContainer<?> c : relays) {
            c.stop();
        }
        haproxy.stop();
        upstream.stop();
        backlogUpstream.stop();
        network.close();
    }
}
