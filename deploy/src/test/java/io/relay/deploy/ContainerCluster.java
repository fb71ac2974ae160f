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
    private static final Pattern MEMBERS = Pattern.compile("(?m)^relay_cluster_members(?:\\{[^}]*})? ([0-9.]+)");

    private final Path deployDir;
    private final Network network;
    private final List<GenericContainer<?>> relays = new ArrayList<>();
    private final GenericContainer<?> haproxy;
    private final ImageFromDockerfile image;
    private final GenericContainer<?> upstream;
    private final DockerClient docker = DockerClientFactory.instance().client();
    private final long t0 = System.nanoTime();

    ContainerCluster(Path deployDir) throws IOException {
        this.deployDir = deployDir;
        String relayYaml = Files.readString(deployDir.resolve("compose/relay.yaml")).replace(COMPOSE_NET, NET);
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
        Startables.deepStart(Stream.concat(Stream.of(upstream, haproxy), relays.stream())).join();
        phase(String.format("upstream, haproxy and three relays started in %.1fs", (System.nanoTime() - t) / 1e9));
    }

    void phase(String what) {
        System.out.printf("[deploy +%5.1fs] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }

    LoadClient load() {
        return new LoadClient(haproxy.getHost(), haproxy.getMappedPort(25));
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
        Map<String, Integer> arrived = received(prefix);
        while (!arrived.keySet().containsAll(load.acknowledged().keySet()) && System.nanoTime() < deadline) {
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
        network.close();
    }
}
