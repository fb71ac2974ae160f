package io.relay.node.delivery;

import io.relay.queue.QueuedMessage;
import io.relay.routing.Agent;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The file transport: one {@code <queue id>.eml} per message in the route's directory, with
 * {@code Return-Path} and one {@code Delivered-To} per recipient before the message. Written
 * to a temporary name, fsync'd, renamed and the directory fsync'd: the file is the delivery,
 * so it is on disk before the queue forgets the message. A write that fails defers (4.3.0).
 */
final class FileTransport {
    private FileTransport() {
    }

    static List<Attempted> deliver(Agent.FileDrop drop, QueuedMessage message, List<String> rcpts) {
        RecipientResult.Status s;
        String detail;
        String code;
        try {
            Path file = write(Path.of(drop.directory()), message, rcpts);
            s = RecipientResult.Status.SENT;
            code = "2.0.0";
            detail = "delivered to file: " + file;
        } catch (IOException e) {
            s = RecipientResult.Status.DEFERRED;
            code = "4.3.0";
            detail = "cannot write to file in " + drop.directory() + ": " + e.getClass().getSimpleName();
        }
        List<Attempted> out = new ArrayList<>();
        for (String r : rcpts) {
            out.add(Attempted.local("file", "file", new RecipientResult(r, s, code, detail, null, null)));
        }
        return out;
    }

    private static Path write(Path dir, QueuedMessage message, List<String> rcpts) throws IOException {
        Files.createDirectories(dir);
        StringBuilder head = new StringBuilder();
        head.append("Return-Path: <").append(message.envelope().sender()).append(">\r\n");
        for (String r : rcpts) {
            head.append("Delivered-To: ").append(r).append("\r\n");
        }
        Path tmp = dir.resolve("." + message.id().value() + ".eml.tmp");
        Path target = dir.resolve(message.id().value() + ".eml");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer first = ByteBuffer.wrap(head.toString().getBytes(StandardCharsets.UTF_8));
            while (first.hasRemaining()) {
                ch.write(first);
            }
            try (InputStream in = message.body().open()) { // a large message is copied as it is read
                byte[] buf = new byte[64 * 1024];
                for (int n; (n = in.read(buf)) > 0; ) {
                    ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                }
            }
            ch.force(true);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException ignored) {
            // Some file systems refuse to open a directory for fsync; the rename is still atomic.
        }
        return target;
    }
}
