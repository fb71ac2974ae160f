package io.relay.queue.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A small tmpfs mounted for one test (tests run as root, CI too): a file system that really
 * fills up (the queue's journal tests and relay-node's end-to-end tests, through this
 * module's test-jar). Skips the test, saying why, where mount is refused.
 */
public final class Tmpfs implements AutoCloseable {
    private final Path dir;

    private Tmpfs(Path dir) {
        this.dir = dir;
    }

    public static Tmpfs mount(Path dir, String size) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString())
                .redirectErrorStream(true).start();
        boolean done = p.waitFor(30, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes()).strip();
        Assumptions.assumeTrue(done && p.exitValue() == 0,
                "skipped: cannot mount a tmpfs at " + dir + " (needs root and CAP_SYS_ADMIN): " + out);
        return new Tmpfs(dir);
    }

    public Path dir() {
        return dir;
    }

    /** Fills the file system with {@code name} until a write fails, then frees {@code leaveBytes} of it. */
    public Path fill(String name, long leaveBytes) throws IOException {
        Path filler = dir.resolve(name);
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        try (FileChannel ch = FileChannel.open(filler, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            try {
                while (true) {
                    chunk.clear();
                    while (chunk.hasRemaining()) {
                        ch.write(chunk);
                    }
                }
            } catch (IOException full) {
                // expected: No space left on device
            }
            ch.truncate(Math.max(0, ch.size() - leaveBytes));
        }
        return filler;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        new ProcessBuilder("umount", "-l", dir.toString()).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
    }
}
