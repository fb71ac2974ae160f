package io.relay.node.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Postfix's smtp-sink as a fast upstream on 127.0.0.1:{@link #port()}. Each received
 * message is dumped to its own file ({@code -d}), so {@link #messageCount()} counts
 * deliveries exactly. Close it to stop the process.
 *
 * <pre>
 * try (UpstreamSink sink = UpstreamSink.start(tmp)) { ... sink.awaitMessages(10, ofSeconds(5)) ... }
 * </pre>
 */
public final class UpstreamSink implements AutoCloseable {
    private final Process process;
    private final int port;
    private final Path dumpDir;

    private UpstreamSink(Process process, int port, Path dumpDir) {
        this.process = process;
        this.port = port;
        this.dumpDir = dumpDir;
    }

    /** Starts smtp-sink with PIPELINING announced (its default). */
    public static UpstreamSink start(Path workDir, String... extraOptions) throws IOException {
        return startAt(workDir, "127.0.0.1", UpstreamProcess.freePort(), extraOptions);
    }

    /**
     * Starts smtp-sink on this address and port, e.g. 127.0.0.4:25 where a DNS test record
     * sends direct MX delivery (binding 25 needs root).
     */
    public static UpstreamSink startAt(Path workDir, String host, int port, String... extraOptions) throws IOException {
        Tools.require(Tools.SMTP_SINK);
        Files.createDirectories(workDir);
        // smtp-sink drops to "nobody" when run as root, and a JUnit @TempDir is not traversable
        // by others: the dump directory lives in the system temp dir, open to all.
        Path dump = Files.createTempDirectory("sink-dump");
        Files.setPosixFilePermissions(dump, PosixFilePermissions.fromString("rwxrwxrwx"));
        List<String> cmd = new ArrayList<>(List.of(Tools.SMTP_SINK));
        if ("root".equals(System.getProperty("user.name"))) {
            cmd.addAll(List.of("-u", "nobody"));
        }
        cmd.addAll(List.of("-d", dump + "/%H%M%S.", "-h", "sink.test"));
        cmd.addAll(List.of(extraOptions));
        cmd.add(host + ":" + port);
        cmd.add("64");
        String out = "127.0.0.1".equals(host) ? "sink.out" : "sink-" + host + "-" + port + ".out";
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(workDir.resolve(out).toFile()).start();
        try {
            UpstreamProcess.awaitListening(p, host, port, Duration.ofSeconds(10));
        } catch (IOException e) {
            UpstreamProcess.kill(p);
            throw e;
        }
        return new UpstreamSink(p, port, dump);
    }

    public int port() {
        return port;
    }

    /** Messages smtp-sink has written so far. */
    public int messageCount() throws IOException {
        try (Stream<Path> files = Files.list(dumpDir)) {
            return (int) files.filter(Files::isRegularFile).count();
        }
    }

    /**
     * The dumped transactions, oldest first: smtp-sink writes the envelope as headers
     * ({@code X-Mail-Args}, {@code X-Rcpt-Args}) above each message.
     */
    public List<String> messages() throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dumpDir)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                out.add(Files.readString(f, java.nio.charset.StandardCharsets.ISO_8859_1));
            }
        }
        return out;
    }

    /** Waits until at least {@code n} messages arrived; returns the count seen at the end. */
    public int awaitMessages(int n, Duration deadline) throws IOException, InterruptedException {
        long end = System.nanoTime() + deadline.toNanos();
        int seen = messageCount();
        while (seen < n && System.nanoTime() < end) {
            Thread.sleep(25);
            seen = messageCount();
        }
        return seen;
    }

    @Override
    public void close() {
        UpstreamProcess.kill(process);
        try (Stream<Path> files = Files.list(dumpDir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dumpDir);
        } catch (IOException ignored) {
            // best effort: a leftover dump in /tmp is harmless
        }
    }
}
