package io.relay.queue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The contents of large messages beside one journal, one file per message as Postfix keeps
 * its queue files: {@code <dir>/incoming/<id>} while it is written (streamed from an SMTP
 * client, or copied part by part from another member), {@code <dir>/bodies/<id>} once
 * settled (fsync'd, renamed, the directory fsync'd). The journal's record of such a message
 * holds its envelope and the file's length ({@link BinaryCodec#onDisk}); a record is written
 * only after its file is settled, so an owed record always has its file.
 *
 * <p>Why files and not journal records: a 40 MB body written into the journal would pass
 * through the journal's group-commit buffer (the heap), and be copied forward whole when its
 * segment is compacted; a file is written once, streamed, and removed with one unlink.
 */
final class BodyFiles {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    /** A settled file younger than this may still be waiting for its journal record: a sweep leaves it. */
    private static final long SWEEP_GRACE_MILLIS = 10 * 60_000L;

    private final Path incoming;
    private final Path settled;
    /** Settled files by id, with when they were settled (0: found at open). */
    private final Map<String, Long> present = new ConcurrentHashMap<>();

    private BodyFiles(Path incoming, Path settled) {
        this.incoming = incoming;
        this.settled = settled;
    }

    /**
     * The files beside the journal in {@code dir}: what {@code incoming} holds is from
     * transactions a stop or a crash cut short (never answered 250) and is deleted.
     */
    static BodyFiles open(Path dir) throws IOException {
        BodyFiles f = new BodyFiles(dir.resolve("incoming"), dir.resolve("bodies"));
        Files.createDirectories(f.incoming);
        Files.createDirectories(f.settled);
        try (DirectoryStream<Path> left = Files.newDirectoryStream(f.incoming)) {
            for (Path p : left) {
                Files.deleteIfExists(p);
            }
        }
        try (DirectoryStream<Path> bodies = Files.newDirectoryStream(f.settled)) {
            for (Path p : bodies) {
                f.present.put(p.getFileName().toString(), 0L);
            }
        }
        return f;
    }

    // Ids come from other members' tasks too: QueueId's form (hex only) keeps a name inside the directory.

    /** Where the content of message {@code id} is written before it is settled. */
    Path incoming(String id) {
        return incoming.resolve(new QueueId(id).value());
    }

    /** Where the settled content of message {@code id} is. */
    Path settled(String id) {
        return settled.resolve(new QueueId(id).value());
    }

    boolean holds(String id) {
        return present.containsKey(id);
    }

    /**
     * Makes the incoming file of {@code id} durable and moves it to its settled place;
     * refuses a file whose length is not {@code expectedLength} (a copy cut short).
     */
    Path settle(String id, long expectedLength) throws IOException {
        Path from = incoming(id);
        try (FileChannel ch = FileChannel.open(from, StandardOpenOption.WRITE)) {
            if (ch.size() != expectedLength) {
                throw new IOException(id + ": body file has " + ch.size() + " bytes, expected " + expectedLength);
            }
            ch.force(true);
        }
        Path to = settled(id);
        Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        forceDirectory(settled);
        present.put(id, System.currentTimeMillis());
        return to;
    }

    /** Writes a part of a body being copied here, at its offset (a part sent twice is written twice, harmlessly). */
    void writePart(String id, long offset, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(incoming(id), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            long at = offset;
            while (b.hasRemaining()) {
                at += ch.write(b, at);
            }
        }
    }

    /** Up to {@code max} bytes of the settled body of {@code id} from {@code offset}; null when there is none. */
    byte[] readPart(String id, long offset, int max) throws IOException {
        if (!holds(id)) {
            return null;
        }
        try (FileChannel ch = FileChannel.open(settled(id), StandardOpenOption.READ)) {
            int n = (int) Math.max(0, Math.min(max, ch.size() - offset));
            ByteBuffer b = ByteBuffer.allocate(n);
            while (b.hasRemaining() && ch.read(b, offset + b.position()) >= 0) {
                // until full: the file does not shrink while it is owed
            }
            return b.array();
        }
    }

    /** Removes the body of a finished (or refused) message, if it has one here. */
    void delete(String id) {
        if (present.remove(id) != null) {
            try {
                Files.deleteIfExists(settled(id));
            } catch (IOException e) {
                LOG.warn("{}: body file not removed: {}", id, e.toString());
            }
        }
    }

    /** Removes an incoming file that will not be settled (the transaction failed). */
    void discardIncoming(String id) {
        try {
            Files.deleteIfExists(incoming(id));
        } catch (IOException e) {
            LOG.debug("{}: incoming body not removed: {}", id, e.toString());
        }
    }

    /**
     * Removes the files the journal no longer owes (its replay or a reconcile wrote their
     * DONE without passing here), leaving those settled in the last minutes, whose record
     * may still be on its way. Answers how many it removed.
     */
    int sweep(Predicate<String> owed) {
        long before = System.currentTimeMillis() - SWEEP_GRACE_MILLIS;
        int removed = 0;
        for (Map.Entry<String, Long> e : present.entrySet()) {
            if (e.getValue() <= before && !owed.test(e.getKey())) {
                delete(e.getKey());
                removed++;
            }
        }
        return removed;
    }

    int count() {
        return present.size();
    }

    private static void forceDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // some file systems refuse to open a directory for fsync; the rename is still atomic
        }
    }
}
