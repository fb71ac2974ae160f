package io.relay.node.e2e;

import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import io.relay.node.testing.UpstreamProcess;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The upstream of a backlog's next hop, on one loopback port for its whole life: first an
 * smtp-sink that answers 4xx to every RCPT ({@code -r RCPT}), so each message sent there is
 * deferred with backoff and stays queued; then, after {@link #accept()}, an smtp-sink on the
 * same port that takes everything and appends it to one dump file, where {@link #recipients()}
 * counts how often each envelope recipient ({@code X-Rcpt-Args}) arrived.
 *
 * <p>A deferral costs the relay one short session (no DATA), and an established session
 * never trips the next hop's circuit breaker, so the messages are deferred by the upstream's
 * answer, not suspended by the relay, and a retry after {@link #accept()} reaches the new
 * sink at once. The dump grows to ~1.6 KB a message; {@link #recipients()} reads only what was
 * appended since its last call.
 */
final class DeferringUpstream implements AutoCloseable {
    private static final byte[] RCPT = "X-Rcpt-Args: ".getBytes(StandardCharsets.US_ASCII);

    private final Path work;
    private final Path dump;
    private final int port;
    private final Map<String, Integer> seen = new HashMap<>();
    private Process process;
    private long readUpTo;
    private byte[] partial = new byte[0];

    private DeferringUpstream(Path work, Path dump, int port) {
        this.work = work;
        this.dump = dump;
        this.port = port;
    }

    /** Starts deferring on a free loopback port. */
    static DeferringUpstream deferring(Path work) throws IOException {
        Tools.require(Tools.SMTP_SINK);
        Files.createDirectories(work);
        // smtp-sink writes as "nobody": the dump lives in a directory of its own under /tmp, open to all
        Path shared = Files.createTempDirectory("backlog-sink");
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path dump = shared.resolve("backlog.dump");
        Files.writeString(dump, "");
        Files.setPosixFilePermissions(dump, PosixFilePermissions.fromString("rw-rw-rw-"));
        DeferringUpstream u = new DeferringUpstream(work, dump, Ports.free());
        u.launch(List.of("-r", "RCPT"));
        return u;
    }

    int port() {
        return port;
    }

    /** The next hop as the relay names it for a route {@code smtp:[127.0.0.1]:PORT}. */
    String nextHop() {
        return "[127.0.0.1]:" + port;
    }

    /** Stops deferring: the same port now accepts every message (the open sessions of the deferring sink break). */
    void accept() throws IOException {
        UpstreamProcess.kill(process);
        launch(List.of("-D", dump.toString()));
    }

    private void launch(List<String> mode) throws IOException {
        List<String> cmd = new java.util.ArrayList<>(List.of(Tools.SMTP_SINK, "-u", "nobody", "-h", "backlog.test"));
        cmd.addAll(mode);
        cmd.addAll(List.of("127.0.0.1:" + port, "256"));
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(work.resolve("backlog-sink.out").toFile())).start();
        UpstreamProcess.awaitListening(process, port, Duration.ofSeconds(10));
    }

    /** How often each envelope recipient arrived so far (after {@link #accept()}). */
    synchronized Map<String, Integer> recipients() throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(dump.toFile(), "r")) {
            long end = f.length();
            byte[] chunk = new byte[1 << 20];
            f.seek(readUpTo);
            while (readUpTo < end) {
                int n = f.read(chunk, 0, (int) Math.min(chunk.length, end - readUpTo));
                if (n <= 0) {
                    break;
                }
                readUpTo += n;
                consume(chunk, n);
            }
        }
        return Map.copyOf(seen);
    }

    /** Counts each complete {@code X-Rcpt-Args: <addr> ...} line; keeps an unfinished last line for the next read. */
    private void consume(byte[] chunk, int n) {
        byte[] data = new byte[partial.length + n];
        System.arraycopy(partial, 0, data, 0, partial.length);
        System.arraycopy(chunk, 0, data, partial.length, n);
        int lineStart = 0;
        for (int i = 0; i < data.length; i++) {
            if (data[i] == '\n') {
                countLine(data, lineStart, i);
                lineStart = i + 1;
            }
        }
        partial = java.util.Arrays.copyOfRange(data, lineStart, data.length);
    }

    private void countLine(byte[] data, int from, int to) {
        if (to - from <= RCPT.length) {
            return;
        }
        for (int k = 0; k < RCPT.length; k++) {
            if (data[from + k] != RCPT[k]) {
                return;
            }
        }
        String args = new String(data, from + RCPT.length, to - from - RCPT.length, StandardCharsets.ISO_8859_1);
        int open = args.indexOf('<');
        int close = args.indexOf('>', open + 1);
        String address = open >= 0 && close > open ? args.substring(open + 1, close) : args.strip();
        seen.merge(address.toLowerCase(java.util.Locale.ROOT), 1, Integer::sum);
    }

    @Override
    public void close() {
        UpstreamProcess.kill(process);
        try {
            Files.deleteIfExists(dump);
            Files.deleteIfExists(dump.getParent());
        } catch (IOException e) {
            // left in /tmp; harmless
        }
    }
}
