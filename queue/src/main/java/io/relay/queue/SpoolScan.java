package io.relay.queue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the segments a {@link SpoolJournal} found at open say is owed: read in order, frame
 * by frame, each record applied to the state (ACCEPT tracks an id at its file and offset,
 * DONE drops it, DEFER, HOLD and REEPOCH annotate it). A torn or corrupt record stops the
 * scan of its segment with a warning.
 *
 * <p>It runs on a thread of its own while the journal already takes new records (see
 * {@link SpoolJournal}); the records written meanwhile come after every scanned one, so the
 * journal's writer finishes the picture by {@link #apply applying} them to this state in
 * the order it wrote them, as if the scan had read them too. Not thread-safe: the scan
 * thread owns it until it hands it to the writer.
 */
final class SpoolScan {
    private static final Logger LOG = LoggerFactory.getLogger(SpoolJournal.class);
    /**
     * Keeps one String per distinct epoch (a handful) rather than one per record: keys with
     * this prefix in the epoch map name the shared instances (ids are hex digits).
     */
    private static final String EPOCH_NAMES = "epoch:";

    /** Owed ids and where their ACCEPT is; concurrent because it becomes the journal's live map. */
    final ConcurrentHashMap<String, SpoolJournal.Live> live = new ConcurrentHashMap<>();
    final Set<String> held = new HashSet<>();
    private final Map<String, String> epochs = new HashMap<>();
    private final Map<String, SpoolJournal.Deferral> deferrals = new HashMap<>();
    private final long acceptedAtMillis;
    private long bytes;

    /** {@code acceptedAtMillis}: what scanned entries count as their accept time (the open's). */
    SpoolScan(long acceptedAtMillis) {
        this.acceptedAtMillis = acceptedAtMillis;
    }

    /** Scans the segments in order; stops early (false) once {@code stop} says so (the journal closes). */
    boolean scan(List<SpoolJournal.Segment> segments, BooleanSupplier stop) throws IOException {
        for (SpoolJournal.Segment segment : segments) {
            if (stop.getAsBoolean() || !scanSegment(segment, stop)) {
                return false;
            }
        }
        return true;
    }

    /** Bytes read by {@link #scan}. */
    long bytes() {
        return bytes;
    }

    /**
     * One record's effect. {@code rest} is the record's body after its type and id; the
     * ACCEPT's position is {@code segment} and {@code offset}.
     */
    void apply(byte type, String id, ByteBuffer rest, SpoolJournal.Segment segment, long offset) {
        if (type == SpoolRecords.ACCEPT) {
            epochs.put(id, epochName(BinaryCodec.getString(rest)));
            deferrals.remove(id);
            held.remove(id);
            track(id, new SpoolJournal.Live(segment, offset, acceptedAtMillis));
        } else if (type == SpoolRecords.DONE) {
            forget(id);
        } else if (type == SpoolRecords.REEPOCH) {
            if (live.containsKey(id)) {
                epochs.put(id, epochName(BinaryCodec.getString(rest)));
            }
        } else if (type == SpoolRecords.HOLD) {
            if (rest.get() != 0) {
                held.add(id);
            } else {
                held.remove(id);
            }
        } else if (type == SpoolRecords.DEFER) {
            int attempts = rest.getInt();
            long next = rest.getLong();
            int n = rest.getInt();
            List<String> pending = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                pending.add(BinaryCodec.getString(rest));
            }
            deferrals.put(id, new SpoolJournal.Deferral(attempts, next, pending));
        }
    }

    /** A later ACCEPT (written by the journal since open) supersedes what the scan found of the id. */
    void forget(String id) {
        SpoolJournal.Live gone = live.remove(id);
        if (gone != null) {
            gone.segment().live--;
        }
        epochs.remove(id);
        deferrals.remove(id);
        held.remove(id);
    }

    /** The owed entries the scan found (the writer's records since open applied), sorted by id. */
    List<SpoolJournal.OwedEntry> owed(Set<SpoolJournal.Segment> scanned) {
        List<SpoolJournal.OwedEntry> result = new ArrayList<>();
        live.forEach((id, l) -> {
            if (scanned.contains(l.segment())) {
                result.add(new SpoolJournal.OwedEntry(new QueueId(id), epochs.get(id), l.segment().path,
                        l.offset(), deferrals.get(id), held.contains(id)));
            }
        });
        result.sort((a, b) -> a.id().value().compareTo(b.id().value()));
        return List.copyOf(result);
    }

    private String epochName(String epoch) {
        return epochs.computeIfAbsent(EPOCH_NAMES + epoch, k -> k.substring(EPOCH_NAMES.length()));
    }

    private void track(String id, SpoolJournal.Live entry) {
        entry.segment().live++;
        SpoolJournal.Live previous = live.put(id, entry);
        if (previous != null) {
            previous.segment().live--;
        }
    }

    private boolean scanSegment(SpoolJournal.Segment segment, BooleanSupplier stop) throws IOException {
        try (FileChannel ch = FileChannel.open(segment.path, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer magic = ByteBuffer.allocate(SpoolRecords.MAGIC.length);
            while (magic.hasRemaining() && ch.read(magic, magic.position()) >= 0) {
                // read the header
            }
            if (magic.hasRemaining() || !java.util.Arrays.equals(magic.array(), SpoolRecords.MAGIC)) {
                LOG.warn("spool segment {} has no valid header; skipped", segment.path);
                return true;
            }
            long pos = SpoolRecords.MAGIC.length;
            FrameReader frames = new FrameReader(ch, size);
            while (pos < size) {
                if (stop.getAsBoolean()) {
                    return false;
                }
                ByteBuffer body = frames.body(pos);
                if (body == null) {
                    LOG.warn("spool segment {}: torn or corrupt record at offset {}; replay of this segment stops there",
                            segment.path, pos);
                    break;
                }
                int length = body.remaining();
                try {
                    byte type = body.get();
                    apply(type, BinaryCodec.getString(body), body, segment, pos);
                } catch (RuntimeException e) {
                    LOG.warn("spool segment {}: undecodable record at offset {}; replay of this segment stops there",
                            segment.path, pos);
                    break;
                }
                pos += 8 + length;
            }
            bytes += pos;
            return true;
        }
    }

    /**
     * A segment's frames read in order through one 4 MiB buffer: two reads per frame made the
     * open of a spool with a million messages take tens of seconds.
     */
    private static final class FrameReader {
        private final FileChannel ch;
        private final long size;
        private ByteBuffer buf = ByteBuffer.allocate(4 << 20);
        /** The file offset of {@code buf}'s first byte. */
        private long start;

        FrameReader(FileChannel ch, long size) {
            this.ch = ch;
            this.size = size;
            buf.limit(0);
        }

        /** The body of the frame at {@code pos}, or null when it is torn, oversized or fails its CRC. */
        ByteBuffer body(long pos) throws IOException {
            if (size - pos < 8 || !fill(pos, 8)) {
                return null;
            }
            int at = (int) (pos - start);
            int length = buf.getInt(at);
            int crc = buf.getInt(at + 4);
            if (length <= 0 || length > SpoolRecords.MAX_BODY || pos + 8 + length > size || !fill(pos, 8 + length)) {
                return null;
            }
            at = (int) (pos - start);
            CRC32C check = new CRC32C();
            check.update(buf.array(), at + 8, length);
            if ((int) check.getValue() != crc) {
                return null;
            }
            return ByteBuffer.wrap(buf.array(), at + 8, length).slice();
        }

        /** Makes {@code [pos, pos + n)} readable in the buffer; false at a short file. */
        private boolean fill(long pos, int n) throws IOException {
            if (pos >= start && pos + n <= start + buf.limit()) {
                return true;
            }
            if (n > buf.capacity()) {
                buf = ByteBuffer.allocate(n);
            }
            buf.clear();
            start = pos;
            while (buf.hasRemaining()) {
                int r = ch.read(buf, start + buf.position());
                if (r < 0) {
                    break;
                }
            }
            buf.flip();
            return buf.limit() >= n;
        }
    }
}
