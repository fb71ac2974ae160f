package io.relay.node.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Debian's haproxy in the foreground ({@code -db}), run from the production template
 * deploy/haproxy/haproxy.cfg: everything from its {@code defaults} section on, with the
 * test's replacements (addresses, ports, check timing) applied and a {@code global} of the
 * test's own (stats socket in the test directory, log lines on stdout into haproxy.out).
 * Each replacement must match the template, so a template that drifts fails the test
 * instead of silently testing something else. Server states come from {@code show stat}
 * on the stats socket.
 */
public final class HaproxyProcess implements AutoCloseable {
    /** The production configuration, relative to the relay-node module (the tests' working directory). */
    public static final Path TEMPLATE = Path.of("../deploy/haproxy/haproxy.cfg");

    private final Path dir;
    private final Path statsSocket;
    private final Process process;

    private HaproxyProcess(Path dir, Path statsSocket, Process process) {
        this.dir = dir;
        this.statsSocket = statsSocket;
        this.process = process;
    }

    /**
     * Writes dir/haproxy.cfg from {@link #TEMPLATE} with {@code replacements} (literal text →
     * text, in order), starts haproxy and returns once it listens on every {@code ports}.
     */
    public static HaproxyProcess start(Path dir, Map<String, String> replacements, int... ports) throws IOException {
        Tools.require(Tools.HAPROXY);
        Files.createDirectories(dir);
        String template = Files.readString(TEMPLATE);
        int defaults = template.indexOf("\ndefaults\n");
        if (defaults < 0) {
            throw new IllegalStateException(TEMPLATE + " has no defaults section");
        }
        String body = template.substring(defaults + 1);
        for (Map.Entry<String, String> r : replacements.entrySet()) {
            if (!body.contains(r.getKey())) {
                throw new IllegalStateException(TEMPLATE + " no longer contains '" + r.getKey()
                        + "'; update the test's replacements");
            }
            body = body.replace(r.getKey(), r.getValue());
        }
        Path socket = dir.resolve("admin.sock");
        String global = String.join("\n",
                "global",
                "    log stdout format raw local0",
                "    maxconn 2000",
                "    stats socket " + socket + " mode 600 level admin",
                "", "");
        Path cfg = dir.resolve("haproxy.cfg");
        Files.writeString(cfg, global + body);
        Process p = new ProcessBuilder(Tools.HAPROXY, "-db", "-f", cfg.toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("haproxy.out").toFile())).start();
        HaproxyProcess h = new HaproxyProcess(dir, socket, p);
        h.awaitListening(ports, Duration.ofSeconds(20));
        return h;
    }

    private void awaitListening(int[] ports, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int port : ports) {
            while (true) {
                if (!process.isAlive()) {
                    throw new IllegalStateException("haproxy exited with " + process.exitValue() + ":\n" + output());
                }
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    break;
                } catch (IOException notYet) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("haproxy did not listen on " + port + ":\n" + output());
                    }
                    sleep(100);
                }
            }
        }
    }

    /** The status column of {@code show stat} for one server: {@code UP}, {@code DOWN}, {@code UP 1/2}, ... */
    public String serverStatus(String backend, String server) throws IOException {
        List<String> lines = command("show stat");
        if (lines.isEmpty() || !lines.get(0).startsWith("# ")) {
            throw new IllegalStateException("unexpected 'show stat' answer: " + lines);
        }
        List<String> header = List.of(lines.get(0).substring(2).split(",", -1));
        int px = header.indexOf("pxname");
        int sv = header.indexOf("svname");
        int status = header.indexOf("status");
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            if (f.length > status && f[px].equals(backend) && f[sv].equals(server)) {
                return f[status];
            }
        }
        throw new IllegalStateException("no server " + backend + "/" + server + " in 'show stat'");
    }

    /** Waits until each {@code backend/server} has exactly {@code status}; returns how long that took. */
    public Duration awaitStatus(List<String> servers, String status, Duration timeout) throws Exception {
        long t0 = System.nanoTime();
        long deadline = t0 + timeout.toNanos();
        while (true) {
            List<String> now = new ArrayList<>();
            for (String s : servers) {
                String[] bs = s.split("/", 2);
                now.add(serverStatus(bs[0], bs[1]));
            }
            if (now.stream().allMatch(status::equals)) {
                return Duration.ofNanos(System.nanoTime() - t0);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(servers + " are " + now + ", not " + status + " within " + timeout
                        + "; haproxy log tail:\n" + NodeProcess.tail(dir.resolve("haproxy.out"), 20));
            }
            Thread.sleep(100);
        }
    }

    /** One command on the stats socket (non-interactive: haproxy answers and closes). */
    private List<String> command(String cmd) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(statsSocket));
            ch.write(ByteBuffer.wrap((cmd + "\n").getBytes(StandardCharsets.US_ASCII)));
            String answer = new String(Channels.newInputStream(ch).readAllBytes(), StandardCharsets.US_ASCII);
            return answer.lines().filter(l -> !l.isBlank()).toList();
        }
    }

    public String output() {
        try {
            Path out = dir.resolve("haproxy.out");
            return Files.exists(out) ? Files.readString(out) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
