package io.relay.node.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.relay.cli.RelayCtl;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Two relay nodes (each its own JVM, see {@link NodeProcess}) sharing one admin token file,
 * as the admin end-to-end tests use them: start, restart, the admin API over HTTP (with and
 * without the token), and relayctl against either node, in this JVM or as its own process.
 * Everything relayctl prints is kept ({@link #cliOutput()}) so a test can check a secret
 * never appears in it.
 */
public final class AdminCluster {
    /** What relayctl answered: exit code, stdout, stderr. */
    public record Cli(int code, String out, String err) {
    }

    /** The YAML of node {@code index}; {@code members} is the cluster member list ("127.0.0.1:P, 127.0.0.1:Q"). */
    @FunctionalInterface
    public interface NodeConfig {
        String yaml(int index, Path nodeDir, int smtpPort, int clusterPort, int adminPort, String members);
    }

    private static final String UNAUTHORIZED = "{\"error\":\"unauthorized\"}";

    private final String token;
    private final Path tokenFile;
    private final List<NodeProcess> nodes = new ArrayList<>();
    private final int[] adminPorts = new int[2];
    private final HttpClient http = HttpClient.newHttpClient();
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final StringBuilder cliOutput = new StringBuilder();

    /** Writes {@code token} and a newline to dir/admin.token, mode 600; no node runs yet. */
    public AdminCluster(Path dir, String token) throws IOException {
        this.token = token;
        this.tokenFile = Files.writeString(dir.resolve("admin.token"), token + "\n");
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
    }

    /**
     * Starts both nodes in dir/PREFIX0 and dir/PREFIX1 ({@code together}: at once; otherwise one
     * after the other, for a busy machine where two JVMs starting at once may each miss the
     * start timeout) and waits up to 120 s until each logged 2 members.
     */
    public void start(Path dir, String dirPrefix, boolean together, NodeConfig config) throws Exception {
        int[] smtp = {Ports.free(), Ports.free()};
        int[] cluster = {Ports.free(), Ports.free()};
        String members = String.join(", ", List.of("127.0.0.1:" + cluster[0], "127.0.0.1:" + cluster[1]));
        List<Future<NodeProcess>> started = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            adminPorts[i] = Ports.free();
            Path nodeDir = dir.resolve(dirPrefix + i);
            String yaml = config.yaml(i, nodeDir, smtp[i], cluster[i], adminPorts[i], members);
            int port = smtp[i];
            if (together) {
                started.add(pool.submit(() -> NodeProcess.start(nodeDir, yaml, port)));
            } else {
                nodes.add(NodeProcess.start(nodeDir, yaml, port));
            }
        }
        for (Future<NodeProcess> f : started) {
            nodes.add(f.get());
        }
        NodeProcess.awaitMembers(nodes, 2, Duration.ofSeconds(120));
    }

    /** SIGTERM both (each within 60 s), start both again, and wait up to 120 s until each logged 2 members. */
    public void terminateAndRestart() throws Exception {
        List<Future<Integer>> exits = new ArrayList<>();
        for (NodeProcess n : nodes) {
            exits.add(pool.submit(() -> n.terminate(Duration.ofSeconds(60))));
        }
        for (Future<Integer> f : exits) {
            f.get();
        }
        List<Future<?>> starts = new ArrayList<>();
        for (NodeProcess n : nodes) {
            starts.add(pool.submit(() -> {
                n.restart();
                return null;
            }));
        }
        for (Future<?> f : starts) {
            f.get();
        }
        NodeProcess.awaitMembers(nodes, 2, Duration.ofSeconds(120));
    }

    /** The admin API starts after the SMTP listener and the cluster: wait until both nodes' admin ports accept. */
    public void awaitAdminPorts(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int port : adminPorts) {
            Ports.awaitOpen(port, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        }
    }

    /** Stops both nodes and keeps each one's node.err, node.out and mail.log in keep/NODE-DIR/. */
    public void stop(Path keep) throws InterruptedException {
        pool.shutdownNow();
        for (NodeProcess n : nodes) {
            n.close();
            n.keepLogs(keep.resolve(n.dir().getFileName().toString()), "node.err", "node.out", "mail.log");
        }
    }

    public List<NodeProcess> nodes() {
        return nodes;
    }

    public NodeProcess node(int i) {
        return nodes.get(i);
    }

    public int adminPort(int node) {
        return adminPorts[node];
    }

    public Path tokenFile() {
        return tokenFile;
    }

    /** Everything relayctl printed so far (stdout and stderr, both ways of running it). */
    public String cliOutput() {
        return cliOutput.toString();
    }

    /** RELAYCTL_NODE and RELAYCTL_TOKEN_FILE for this node. */
    public Map<String, String> env(int node) {
        return Map.of("RELAYCTL_NODE", "127.0.0.1:" + adminPorts[node], "RELAYCTL_TOKEN_FILE", tokenFile.toString());
    }

    /** relayctl in its own JVM, as an operator runs it, against this node; {@code stdin} is written to it (null: nothing). */
    public Cli relayctl(int node, String stdin, String... args) throws Exception {
        return relayctlWith(env(node), stdin, args);
    }

    /** relayctl in its own JVM with this environment (e.g. a wrong token file). */
    public Cli relayctlWith(Map<String, String> env, String stdin, String... args) throws Exception {
        return kept(runProcess(env, stdin, args));
    }

    /** relayctl's own entry point in this JVM: the same code without a JVM start per call. */
    public Cli relayctlInProcess(int node, String... args) {
        return kept(runInProcess(env(node), args));
    }

    private Cli kept(Cli c) {
        synchronized (cliOutput) {
            cliOutput.append(c.out()).append(c.err());
        }
        return c;
    }

    /**
     * relayctl in its own JVM from the test class path; the RELAYCTL_* variables of this JVM's
     * environment are not passed on, {@code env} is; stdin gets {@code stdin} (null: nothing),
     * then EOF. Fails if relayctl does not finish within 60 s.
     */
    public static Cli runProcess(Map<String, String> env, String stdin, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.relay.cli.RelayCtl"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("RELAYCTL_NODE");
        pb.environment().remove("RELAYCTL_TOKEN_FILE");
        pb.environment().remove("RELAYCTL_CACERT");
        pb.environment().putAll(env);
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        }
        FutureTask<String> err = new FutureTask<>(() -> new String(p.getErrorStream().readAllBytes(),
                StandardCharsets.UTF_8));
        Thread reader = new Thread(err, "relayctl-stderr");
        reader.setDaemon(true);
        reader.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("relayctl " + String.join(" ", args) + " did not finish");
        }
        return new Cli(p.exitValue(), out, err.get());
    }

    /** {@link RelayCtl#run} in this JVM with this environment. */
    public static Cli runInProcess(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = RelayCtl.run(args, env, new PrintWriter(out), new PrintWriter(err));
        return new Cli(code, out.toString(), err.toString());
    }

    /** One admin API request to this node; {@code auth} is the Authorization header (null: none). */
    public HttpResponse<String> raw(int node, String method, String path, String auth, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPorts[node] + path))
                .timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (auth != null) {
            b.header("Authorization", auth);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** GET with the right token; asserts 200 and answers the body. */
    public String get(int node, String path) {
        try {
            HttpResponse<String> r = raw(node, "GET", path, "Bearer " + token, null);
            assertEquals(200, r.statusCode(), r.body());
            return r.body();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /**
     * For each Authorization header in {@code auths} (null: none) and each {METHOD, PATH} in
     * {@code calls}: the node answers 401 with no detail.
     */
    public void assertUnauthorized(int node, String body, String[] auths, String[][] calls) throws Exception {
        for (String auth : auths) {
            for (String[] call : calls) {
                HttpResponse<String> r = raw(node, call[0], call[1], auth, body);
                assertEquals(401, r.statusCode(), call[0] + " " + call[1] + " with " + auth);
                assertEquals(UNAUTHORIZED, r.body());
            }
        }
    }

    /** Every *.log, *.out and *.err under both nodes' directories, then their stderr. */
    public String logs() throws IOException {
        StringBuilder all = new StringBuilder();
        for (NodeProcess n : nodes) {
            try (Stream<Path> files = Files.walk(n.dir())) {
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)
                        .filter(p -> p.toString().endsWith(".log") || p.toString().endsWith(".out")
                                || p.toString().endsWith(".err"))::iterator) {
                    all.append(Files.readString(f, StandardCharsets.ISO_8859_1));
                }
            }
            all.append(n.stderr());
        }
        return all.toString();
    }

    /** Reads every {@code pollMillis} until {@code done} holds, at most {@code timeout}; asserts it then, answers the last read. */
    public static String await(Supplier<String> read, Predicate<String> done, Duration timeout, long pollMillis)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String seen = read.get();
        while (!done.test(seen) && System.nanoTime() < deadline) {
            Thread.sleep(pollMillis);
            seen = read.get();
        }
        assertTrue(done.test(seen), seen);
        return seen;
    }
}
