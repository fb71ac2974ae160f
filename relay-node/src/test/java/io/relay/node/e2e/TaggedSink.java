package io.relay.node.e2e;

import io.relay.node.testing.Ports;
import io.relay.node.testing.Tools;
import io.relay.node.testing.UpstreamProcess;
import java.time.Duration;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * smtp-sink (Postfix's test server) as the upstream smart host, dumping every
 * transaction into one file, so a test can count which {@code X-Test-Tag}s arrived and
 * how often. It can be stopped and started again on the same port (upstream down/up).
 */
final class TaggedSink implements AutoCloseable {
    private final Path dump;
    private final int port;
    private Process process;

    TaggedSink(Path dir) throws IOException {
        // smtp-sink drops privileges to "nobody", who must reach and write the dump file:
        // a JUnit @TempDir is 0700, so the dump lives in a directory of its own under /tmp.
        Path shared = Files.createTempDirectory("tagged-sink");
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        this.dump = shared.resolve("sink.dump");
        Files.writeString(dump, "");
        Files.setPosixFilePermissions(dump, PosixFilePermissions.fromString("rw-rw-rw-"));
        this.port = Ports.free();
    }

    static TaggedSink started(Path dir) throws IOException {
        TaggedSink s = new TaggedSink(dir);
        s.start();
        return s;
    }

    void start() throws IOException {
        Tools.require(Tools.SMTP_SINK);
        process = new ProcessBuilder(List.of(Tools.SMTP_SINK, "-u", "nobody", "-D", dump.toString(),
                "127.0.0.1:" + port, "256")).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dump.resolveSibling("sink.out").toFile())).start();
        UpstreamProcess.awaitListening(process, port, Duration.ofSeconds(10));
    }

    void stop() throws InterruptedException {
        if (process != null) {
            process.destroy();
            process.waitFor(10, TimeUnit.SECONDS);
            process.destroyForcibly();
        }
    }

    int port() {
        return port;
    }

    /** How many times each tag arrived. */
    Map<String, Integer> tags() throws IOException {
        Map<String, Integer> seen = new HashMap<>();
        for (String line : Files.readAllLines(dump, java.nio.charset.StandardCharsets.ISO_8859_1)) {
            if (line.startsWith("X-Test-Tag: ")) {
                seen.merge(line.substring(12).trim(), 1, Integer::sum);
            }
        }
        return seen;
    }

    Path dumpFile() {
        return dump;
    }

    @Override
    public void close() throws InterruptedException {
        stop();
        try (var files = Files.list(dump.getParent())) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dump.getParent());
        } catch (IOException e) {
            // left in /tmp; harmless
        }
    }
}
