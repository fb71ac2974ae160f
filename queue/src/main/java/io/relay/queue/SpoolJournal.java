package io.relay.queue;

import static io.relay.queue.SpoolRecords.ACCEPT;
import static io.relay.queue.SpoolRecords.DEFER;
import static io.relay.queue.SpoolRecords.DONE;
import static io.relay.queue.SpoolRecords.HOLD;
import static io.relay.queue.SpoolRecords.MAGIC;
import static io.relay.queue.SpoolRecords.REEPOCH;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node-local spool: an append-only journal that makes an accepted message survive a
 * crash of this node before the cluster has delivered it.
 *
 * <p>Strategy: segment files {@code spool-<seq>.log} in {@code queue.spool-dir}, each an
 * 8-byte magic followed by frames {@code [int length][int CRC32C of body][body]}
 * ({@link SpoolRecords}, the format, builds and reads them). Bodies are ACCEPT(id, cluster
 * epoch, encoded message), DONE(id), DEFER(id, attempts, next attempt, pending recipients)
 * and HOLD(id, held): an operator's hold or release, which must outlive a restart of the
 * whole cluster. One writer thread drains every pending append, writes the
 * batch and calls {@link FileChannel#force} once before completing the ACCEPT futures of
 * the batch (group commit: N concurrent sessions share one fsync). DONE and DEFER need no
 * fsync of their own and do not wake a busy writer: they are written with the next batch,
 * at most {@link #LAZY_WRITE_MILLIS} ms later, and ride the next fsync or the idle flush
 * every second (losing them in a crash costs at most a duplicate delivery). Segments roll at {@code segmentBytes};
 * the oldest closed segment is deleted once none of its ACCEPTs is owed. Deletion goes
 * oldest first, so a DONE never disappears while the ACCEPT it cancels is still on disk;
 * the few owed entries that pin an old segment are copied forward at each rollover. Bodies
 * are not kept on the heap: owed entries are remembered by file and offset and read back on demand.
 *
 * <p>Open: new writes go to a fresh segment at once, and the segments found are scanned
 * ({@link SpoolScan}: a torn or corrupt tail stops the scan of that segment with a warning)
 * on a thread of their own: a million queued messages take seconds to scan, and the node
 * serves SMTP meanwhile. Why that is safe: every record written since open lies after every
 * scanned one, so the writer notes what it writes meanwhile (DONE, DEFER, HOLD and REEPOCH
 * are written even for ids it does not know yet) and, when the scan is done, applies those
 * notes to the scan's state on its own thread, as if the scan had read them; only then does
 * that state become the journal's. Until then the old segments are pinned (neither deleted
 * nor copied forward), so a crash during the scan finds every record where it was; and the
 * questions only the scan can answer ({@link #owes}, {@link #readOwedEncoded}, {@link #owed}...)
 * wait for it when the id is not known yet. {@link #mayOwe} does not wait.
 *
 * <p>Why one class of some 800 lines: the writer thread's state (the owed ids and their
 * places, the held ids, the segments, the notes written since open) is read and changed by
 * the write of a record, the rollover, the copy forward and the merge of the scan, all on
 * that one thread without locks; split over classes, that single-writer rule would have no
 * one place to be seen. The file format is {@link SpoolRecords}, the scan {@link SpoolScan}.
 */
public final class SpoolJournal implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SpoolJournal.class);

    public static final long DEFAULT_SEGMENT_BYTES = 64L * 1024 * 1024;
    /** Owed entries of the oldest segment copied forward per rollover, at most. */
    private static final int RELOCATE_LIMIT = 256;
    private static final long IDLE_FORCE_MILLIS = 1000;
    /** How long records that need no fsync of their own (DONE, DEFER, HOLD) wait to be written with others. */
    private static final long LAZY_WRITE_MILLIS = 10;
    private static final int RUNNING = 0;
    private static final int PARKED_LAZY = 1;
    private static final int PARKED_IDLE = 2;

    /** An ACCEPT found on replay with no DONE after it. */
    public record OwedEntry(QueueId id, String epoch, Path segment, long offset, Deferral lastDeferral, boolean held) {}

    /** The last DEFER seen on replay for an owed entry, if any. */
    public record Deferral(int attempts, long nextAttemptMillis, List<String> pending) {}

    private final Path dir;
    private final long segmentBytes;
    private final LongConsumer fsyncNanos;
    private final ConcurrentLinkedQueue<Append> appends = new ConcurrentLinkedQueue<>();
    /** Appends waiting that need an fsync (ACCEPT, flush): the writer does not park while there are any. */
    private final AtomicInteger syncPending = new AtomicInteger();
    /** Where the writer is: RUNNING, PARKED_LAZY (records waiting to ride along) or PARKED_IDLE. */
    private volatile int parking = RUNNING;
    /** Owed ids; written by the writer only (until the scan is done, those accepted since open). */
    private volatile Map<String, Live> live = new ConcurrentHashMap<>();
    /** Owed ids whose last HOLD record says held (cleared by a release, a DONE or a re-ACCEPT). */
    private volatile Set<String> held = ConcurrentHashMap.newKeySet();
    private final ArrayDeque<Segment> segments = new ArrayDeque<>();
    /** The entries the scan found owed; completes when the scan's state is the journal's. */
    private final CompletableFuture<List<OwedEntry>> scanned = new CompletableFuture<>();
    private volatile List<OwedEntry> owed;
    /**
     * Records written since open while the scan runs (the writer's, in order); null once
     * the scan's state is merged. ACCEPT notes carry no frame (only their id matters).
     */
    private List<Append> sinceOpen = new ArrayList<>();
    private final Thread writer;
    private final AtomicLong forces = new AtomicLong();
    private final AtomicLong records = new AtomicLong();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
    private volatile boolean closed;
    /** The epoch of the last ACCEPT or REEPOCH submitted: what a copied-forward entry is stamped with. */
    private volatile String latestEpoch;
    private Segment current;
    private long nextSeq;

    /** A segment file; {@code live} counts its owed ACCEPTs (the writer's, or the scan's while pinned). */
    static final class Segment {
        final Path path;
        final long seq;
        FileChannel channel;
        long position;
        int live;
        /** Found at open and not merged yet: neither deleted nor copied forward. */
        boolean pinned;

        Segment(Path path, long seq) {
            this.path = path;
            this.seq = seq;
        }
    }

    record Live(Segment segment, long offset, long acceptedAtMillis) {}

    /** A record to write, or ({@code task} set) work to do on the writer's thread in order with the records. */
    private record Append(byte type, String id, ByteBuffer frame, CompletableFuture<Void> future, boolean sync,
                          Runnable task) {}

    private SpoolJournal(Path dir, long segmentBytes, LongConsumer fsyncNanos, Runnable beforeScan) throws IOException {
        this.dir = dir;
        this.segmentBytes = segmentBytes;
        this.fsyncNanos = fsyncNanos;
        Files.createDirectories(dir);
        List<Segment> found = new ArrayList<>();
        for (Map.Entry<Long, Path> file : listSegments().entrySet()) {
            Segment segment = new Segment(file.getValue(), file.getKey());
            segment.position = -1;
            segment.pinned = true;
            found.add(segment);
            segments.addLast(segment);
            nextSeq = file.getKey() + 1;
        }
        roll();
        if (found.isEmpty()) { // nothing to scan: the journal's state is complete now
            sinceOpen = null;
            owed = List.of();
            scanned.complete(owed);
        }
        this.writer = new Thread(this::writeLoop, "spool-journal-writer");
        writer.setDaemon(true);
        writer.start();
        if (found.isEmpty()) {
            return;
        }
        Thread scanning = new Thread(() -> {
            beforeScan.run();
            scan(found);
        }, "spool-scan-" + dir.getFileName());
        scanning.setDaemon(true);
        scanning.start();
    }

    /**
     * Opens the journal in {@code dir} for writing at once and scans what it holds in the
     * background; fsync latencies go to {@code fsyncNanos}.
     */
    public static SpoolJournal open(Path dir, LongConsumer fsyncNanos) throws IOException {
        return new SpoolJournal(dir, DEFAULT_SEGMENT_BYTES, fsyncNanos, () -> { });
    }

    public static SpoolJournal open(Path dir, long segmentBytes, LongConsumer fsyncNanos) throws IOException {
        return new SpoolJournal(dir, segmentBytes, fsyncNanos, () -> { });
    }

    /** As {@link #open(Path, long, LongConsumer)}; {@code beforeScan} runs on the scan's thread first (tests hold the scan there). */
    static SpoolJournal open(Path dir, long segmentBytes, LongConsumer fsyncNanos, Runnable beforeScan)
            throws IOException {
        return new SpoolJournal(dir, segmentBytes, fsyncNanos, beforeScan);
    }

    /** ACCEPT: completes once the record is fsync'd (group commit). */
    public CompletableFuture<Void> accept(QueuedMessage message, String epoch) {
        return accept(message.id(), epoch, BinaryCodec.encodeMessage(message));
    }

    /** ACCEPT of a message already in {@link BinaryCodec} form (saves encoding it twice). */
    CompletableFuture<Void> accept(QueueId queueId, String epoch, byte[] body) {
        latestEpoch = epoch;
        ByteBuffer frame = SpoolRecords.accept(BinaryCodec.utf8(queueId.value()), BinaryCodec.utf8(epoch), body);
        return submit(ACCEPT, queueId.value(), frame, true, null);
    }

    /**
     * REEPOCH: an owed entry now belongs to the cluster of {@code epoch} (a replay after a
     * restart of the whole cluster put it back), without writing its body again. Not
     * fsync'd on its own: the caller {@link #flush}es once after a batch.
     */
    public CompletableFuture<Void> reepoch(QueueId id, String epoch) {
        latestEpoch = epoch;
        ByteBuffer frame = SpoolRecords.reepoch(BinaryCodec.utf8(id.value()), BinaryCodec.utf8(epoch));
        return submit(REEPOCH, id.value(), frame, false, null);
    }

    /** DONE: the message needs nothing more from this spool. Not fsync'd on its own. */
    public CompletableFuture<Void> done(QueueId id) {
        return submit(DONE, id.value(), SpoolRecords.done(BinaryCodec.utf8(id.value())), false, null);
    }

    /** DEFER: advisory delivery state, used if the entry is re-enqueued after a cluster restart. */
    public CompletableFuture<Void> deferred(QueueId id, int attempts, long nextAttemptMillis, List<String> pending) {
        ByteBuffer frame = SpoolRecords.deferred(BinaryCodec.utf8(id.value()), attempts, nextAttemptMillis, pending);
        return submit(DEFER, id.value(), frame, false, null);
    }

    /**
     * HOLD: an operator held ({@code true}) or released the message. Written only when this
     * spool owes the id; not fsync'd on its own: the caller {@link #flush}es once for a batch.
     */
    public CompletableFuture<Void> held(QueueId id, boolean isHeld) {
        return submit(HOLD, id.value(), SpoolRecords.held(BinaryCodec.utf8(id.value()), isHeld), false, null);
    }

    /** Whether this spool owes the id and its last HOLD record says held (waits for the scan). */
    public boolean isHeld(QueueId id) {
        awaitScan();
        return held.contains(id.value());
    }

    /**
     * Whether this spool owes the id (ACCEPTed here, no DONE yet). Blocks while the scan of
     * the segments found at open runs and the id is not known yet: not for an event loop.
     */
    public boolean owes(QueueId id) {
        return live.containsKey(id.value()) || (!scanned.isDone() && awaitScan() && live.containsKey(id.value()));
    }

    /**
     * Whether this spool owes the id, or cannot tell yet because the segments found at open
     * are still being scanned. Does not block: a {@link #done} for such an id is safe (it is
     * written, and counted against the scan's finding when the scan is done).
     */
    public boolean mayOwe(QueueId id) {
        return !scanned.isDone() || live.containsKey(id.value());
    }

    /** Whether the segments found at open are scanned (their entries known to {@link #owes}). */
    public boolean scanned() {
        return scanned.isDone();
    }

    /** Waits for the scan of the segments found at open; true, or an exception when it failed. */
    private boolean awaitScan() {
        try {
            scanned.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw new IllegalStateException("spool " + dir + " not scanned: " + e.getCause(), e.getCause());
        }
        return true;
    }

    /** Completes after everything appended so far is fsync'd. */
    public CompletableFuture<Void> flush() {
        return submit((byte) 0, null, null, true, null);
    }

    /**
     * The entries found owed when the journal was opened (empty after {@link #forgetOwed});
     * waits for the scan of the segments found at open.
     */
    public List<OwedEntry> owed() {
        awaitScan();
        return owed;
    }

    /** Lets the list of entries found at open go (a million of them weigh some 100 MB): the replay is done. */
    public void forgetOwed() {
        owed = List.of();
    }

    /**
     * What a replay needs of an owed entry without reading its content: the envelope's
     * sender, recipients and arrival, and the content's size. Reads the head of the record
     * only (its CRC was checked when the journal was opened).
     */
    public Head readHead(OwedEntry entry) throws IOException {
        try (SpoolRecords.HeadReader heads = heads()) {
            return heads.read(entry);
        }
    }

    /** Reads heads of many owed entries, each segment file opened once. */
    public SpoolRecords.HeadReader heads() {
        return new SpoolRecords.HeadReader();
    }

    /** An owed entry's envelope as a replay needs it ({@link #readHead}). */
    public record Head(String sender, List<String> recipients, long arrivalMillis, long size) {}

    /** Reads an owed entry's message back from its segment. */
    public QueuedMessage read(OwedEntry entry) throws IOException {
        return SpoolRecords.read(entry);
    }

    /**
     * Reads a message this spool still owes back from its segment, or empty when it owes
     * none by that id (or the segment cannot be read now, e.g. it was just compacted).
     */
    public java.util.Optional<QueuedMessage> readOwed(QueueId id) {
        return readOwedEncoded(id).map(BinaryCodec::decodeMessage);
    }

    /** As {@link #readOwed}, the message in its {@link BinaryCodec} form (to send it on as it is). */
    public java.util.Optional<byte[]> readOwedEncoded(QueueId id) {
        for (int tries = 0; tries < 3; tries++) {
            Live l = live.get(id.value());
            if (l == null && !scanned.isDone() && awaitScan()) {
                l = live.get(id.value());
            }
            if (l == null) {
                return java.util.Optional.empty();
            }
            try (FileChannel ch = FileChannel.open(l.segment().path, StandardOpenOption.READ)) {
                ByteBuffer body = SpoolRecords.readBody(ch, l.offset(), ch.size());
                if (body == null || body.get() != ACCEPT) {
                    return java.util.Optional.empty();
                }
                BinaryCodec.getString(body);
                BinaryCodec.getString(body);
                return java.util.Optional.of(BinaryCodec.getBytes(body));
            } catch (java.nio.file.NoSuchFileException e) {
                // copied forward and its old segment deleted between the lookup and the open: look again
            } catch (IOException | RuntimeException e) {
                return java.util.Optional.empty();
            }
        }
        return java.util.Optional.empty();
    }

    /** Ids this spool still owes whose ACCEPT was written before {@code cutoffMillis}. */
    public List<QueueId> owedAcceptedBefore(long cutoffMillis) {
        awaitScan();
        List<QueueId> out = new ArrayList<>();
        live.forEach((id, l) -> {
            if (l.acceptedAtMillis() < cutoffMillis) {
                out.add(new QueueId(id));
            }
        });
        return out;
    }

    /** Ids currently owed (ACCEPTed, no DONE written yet); waits for the scan of the segments found at open. */
    public int owedCount() {
        awaitScan();
        return live.size();
    }

    public long forceCount() {
        return forces.get();
    }

    public long recordCount() {
        return records.get();
    }

    /** Segment files on disk now (for tests and ops). */
    public List<Path> segmentFiles() throws IOException {
        return new ArrayList<>(listSegments().values());
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        CompletableFuture<Void> last = flush();
        closed = true;
        LockSupport.unpark(writer);
        try {
            last.get(30, TimeUnit.SECONDS);
            stopped.get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.warn("spool journal did not flush cleanly on close: {}", e.toString());
        }
    }

    private CompletableFuture<Void> submit(byte type, String id, ByteBuffer frame, boolean sync, Runnable task) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        if (closed) {
            future.completeExceptionally(new IOException("spool journal is closed"));
            return future;
        }
        if (frame != null) {
            SpoolRecords.seal(frame);
        }
        // Only what needs an fsync wakes a parked writer at once; other records wake it only
        // when it has nothing at all to do, and otherwise wait up to LAZY_WRITE_MILLIS to be
        // written with the next batch (a DONE per delivered message then costs no wake-up).
        if (sync) {
            syncPending.incrementAndGet();
        }
        appends.add(new Append(type, id, frame, future, sync, task));
        int p = parking;
        if (p == PARKED_IDLE || (sync && p == PARKED_LAZY)) {
            LockSupport.unpark(writer);
        }
        return future;
    }

    /**
     * Parks the writer until an fsync is wanted, records that need none have waited
     * {@link #LAZY_WRITE_MILLIS}, or (with nothing waiting) the idle-force time is up.
     */
    private void awaitWork(boolean dirty, long lastForce) {
        if (syncPending.get() > 0 || closed) {
            return;
        }
        if (appends.isEmpty()) {
            long left = dirty ? lastForce + IDLE_FORCE_MILLIS * 1_000_000 - System.nanoTime()
                    : IDLE_FORCE_MILLIS * 1_000_000;
            park(PARKED_IDLE, left, true);
        }
        if (syncPending.get() == 0 && !appends.isEmpty()) {
            park(PARKED_LAZY, LAZY_WRITE_MILLIS * 1_000_000, false);
        }
    }

    private void park(int state, long nanos, boolean onlyWhenEmpty) {
        if (nanos <= 0) {
            return;
        }
        parking = state;
        // checked again after publishing the state: a submitter that saw RUNNING did not unpark us
        if (syncPending.get() == 0 && !closed && (!onlyWhenEmpty || appends.isEmpty())) {
            LockSupport.parkNanos(this, nanos);
        }
        parking = RUNNING;
    }

    private void writeLoop() {
        List<Append> batch = new ArrayList<>();
        boolean dirty = false;
        long lastForce = System.nanoTime();
        try {
            while (!Thread.currentThread().isInterrupted()) {
                awaitWork(dirty, lastForce);
                batch.clear();
                Append next;
                while (batch.size() < 8192 && (next = appends.poll()) != null) {
                    batch.add(next);
                }
                boolean sync = false;
                for (Append a : batch) {
                    if (a.sync()) {
                        sync = true;
                        syncPending.decrementAndGet();
                    }
                }
                try {
                    // one record that does not fit (a full disk) fails alone: the DONEs after it still go in
                    Throwable[] failed = null;
                    int failures = 0;
                    for (int i = 0; i < batch.size(); i++) {
                        Append a = batch.get(i);
                        try {
                            if (a.task() != null) {
                                a.task().run();
                            } else if (a.frame() != null && write(a)) {
                                dirty = true;
                            }
                        } catch (IOException | RuntimeException e) {
                            failed = failed == null ? new Throwable[batch.size()] : failed;
                            failed[i] = e;
                            failures++;
                        }
                    }
                    if (dirty && (sync || System.nanoTime() - lastForce >= IDLE_FORCE_MILLIS * 1_000_000)) {
                        force();
                        dirty = false;
                        lastForce = System.nanoTime();
                    }
                    if (!batch.isEmpty()) {
                        deleteFreedSegments();
                    }
                    if (failures > 0) {
                        LOG.error("spool journal write failed in {}: {} of {} records not written: {}", dir, failures,
                                batch.size(), String.valueOf(firstOf(failed)));
                    }
                    for (int i = 0; i < batch.size(); i++) {
                        if (failed != null && failed[i] != null) {
                            batch.get(i).future().completeExceptionally(failed[i]);
                        } else {
                            batch.get(i).future().complete(null);
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    LOG.error("spool journal write failed in {}: {}", dir, e.toString());
                    for (Append a : batch) {
                        a.future().completeExceptionally(e);
                    }
                    lastForce = System.nanoTime(); // an idle force that failed is tried again a second later
                }
                if (closed && appends.isEmpty()) {
                    break;
                }
            }
        } finally {
            Append left;
            while ((left = appends.poll()) != null) {
                left.future().completeExceptionally(new IOException("spool journal is closed"));
            }
            closeChannels();
            stopped.complete(null);
        }
    }

    private static Throwable firstOf(Throwable[] failed) {
        for (Throwable t : failed) {
            if (t != null) {
                return t;
            }
        }
        return null;
    }

    /**
     * Writes one record; returns false when it was skipped (a DONE/DEFER for an id not owed
     * here; while the scan runs, one for an id not known yet is written and noted).
     */
    private boolean write(Append a) throws IOException {
        if (a.type() != ACCEPT && !live.containsKey(a.id()) && sinceOpen == null) {
            return false;
        }
        int length = a.frame().remaining();
        if (current.position + length > segmentBytes && current.position > MAGIC.length) {
            try {
                roll();
            } catch (IOException | RuntimeException e) {
                // No room for a new segment: the limit is soft, so what finishes queued mail
                // (DONE, DEFER, HOLD) still goes into this one; new mail is refused.
                if (a.type() == ACCEPT) {
                    throw e;
                }
            }
            try {
                relocateOldest();
            } catch (IOException | RuntimeException e) { // only an optimization: the copies try again next roll
                LOG.warn("spool journal: could not copy owed entries forward in {}: {}", dir, e.toString());
            }
        }
        long offset = current.position;
        appendFrame(current, a.frame());
        records.incrementAndGet();
        if (sinceOpen != null) {
            sinceOpen.add(a.type() == ACCEPT ? new Append(ACCEPT, a.id(), null, null, false, null) : a);
        }
        if (a.type() == ACCEPT) {
            track(a.id(), new Live(current, offset, System.currentTimeMillis()));
            held.remove(a.id());
        } else if (a.type() == DONE) {
            Live gone = live.remove(a.id());
            if (gone != null) {
                gone.segment().live--;
            }
            held.remove(a.id());
        } else if (a.type() == HOLD) {
            if (a.frame().get(a.frame().limit() - 1) != 0) {
                held.add(a.id());
            } else {
                held.remove(a.id());
            }
        }
        return true;
    }

    private void track(String id, Live entry) {
        entry.segment().live++;
        Live previous = live.put(id, entry);
        if (previous != null) {
            previous.segment().live--;
        }
    }

    /**
     * Writes a whole frame or nothing: a short write on a full disk is cut off again, so the
     * next frame starts where this one did and a replay reads past the failure.
     */
    private static void appendFrame(Segment segment, ByteBuffer frame) throws IOException {
        long start = segment.position;
        try {
            writeFully(segment, frame);
        } catch (IOException | RuntimeException e) {
            segment.position = start; // even if the truncate fails, the next frame overwrites the torn one
            try {
                segment.channel.truncate(start);
            } catch (IOException | RuntimeException t) {
                e.addSuppressed(t);
            }
            throw e;
        }
    }

    private static void writeFully(Segment segment, ByteBuffer frame) throws IOException {
        while (frame.hasRemaining()) {
            segment.position += segment.channel.write(frame, segment.position);
        }
    }

    private void force() throws IOException {
        long start = System.nanoTime();
        current.channel.force(false);
        forces.incrementAndGet();
        fsyncNanos.accept(System.nanoTime() - start);
    }

    /**
     * Opens the next segment, and only then closes the current one: when the disk has no room
     * for the new one, it is removed again and the current one stays open for writing.
     */
    private void roll() throws IOException {
        if (current != null) {
            force();
        }
        long seq = nextSeq++;
        Segment segment = new Segment(dir.resolve(String.format("spool-%016d.log", seq)), seq);
        try {
            segment.channel = FileChannel.open(segment.path, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE, StandardOpenOption.READ);
            writeFully(segment, ByteBuffer.wrap(MAGIC));
            segment.channel.force(true);
        } catch (IOException | RuntimeException e) {
            try {
                if (segment.channel != null) {
                    segment.channel.close();
                }
                Files.deleteIfExists(segment.path);
            } catch (IOException | RuntimeException t) {
                e.addSuppressed(t);
            }
            throw e;
        }
        if (current != null) {
            current.channel.close();
            current.channel = null;
        }
        segments.addLast(segment);
        current = segment;
    }

    /** Copies the few owed ACCEPTs of the oldest closed segment forward so it can be deleted. */
    private void relocateOldest() throws IOException {
        Segment oldest = segments.peekFirst();
        if (oldest == null || oldest == current || oldest.pinned || oldest.live == 0 || oldest.live > RELOCATE_LIMIT) {
            return;
        }
        List<Map.Entry<String, Live>> moving = new ArrayList<>();
        live.forEach((id, l) -> {
            if (l.segment() == oldest) {
                moving.add(Map.entry(id, l));
            }
        });
        try (FileChannel ch = FileChannel.open(oldest.path, StandardOpenOption.READ)) {
            long size = ch.size();
            for (Map.Entry<String, Live> m : moving) {
                ByteBuffer body = SpoolRecords.readBody(ch, m.getValue().offset(), size);
                if (body == null) {
                    continue;
                }
                long offset = current.position;
                appendFrame(current, SpoolRecords.seal(SpoolRecords.copy(body)));
                if (held.contains(m.getKey())) {
                    // a replay lets a later ACCEPT reset the hold: the hold follows the copy
                    try {
                        ByteBuffer hold = SpoolRecords.held(BinaryCodec.utf8(m.getKey()), true);
                        appendFrame(current, SpoolRecords.seal(hold));
                    } catch (IOException | RuntimeException e) { // a copy without its hold would release it
                        current.position = offset;
                        current.channel.truncate(offset);
                        throw e;
                    }
                }
                track(m.getKey(), new Live(current, offset, m.getValue().acceptedAtMillis()));
                String epoch = latestEpoch;
                if (epoch != null) {
                    // the copy carries the epoch of its first ACCEPT; a REEPOCH since then must follow it
                    ByteBuffer re = SpoolRecords.reepoch(BinaryCodec.utf8(m.getKey()), BinaryCodec.utf8(epoch));
                    appendFrame(current, SpoolRecords.seal(re));
                }
            }
        }
    }

    private void deleteFreedSegments() {
        while (segments.size() > 1 && segments.peekFirst() != current && !segments.peekFirst().pinned
                && segments.peekFirst().live <= 0) {
            Segment gone = segments.removeFirst();
            try {
                Files.deleteIfExists(gone.path);
            } catch (IOException e) {
                LOG.warn("could not delete spool segment {}: {}", gone.path, e.toString());
            }
        }
    }

    private void closeChannels() {
        for (Segment s : segments) {
            if (s.channel != null) {
                try {
                    s.channel.force(false);
                    s.channel.close();
                } catch (IOException e) {
                    LOG.warn("closing spool segment {}: {}", s.path, e.toString());
                }
            }
        }
    }

    private TreeMap<Long, Path> listSegments() throws IOException {
        TreeMap<Long, Path> found = new TreeMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "spool-*.log")) {
            for (Path p : files) {
                String name = p.getFileName().toString();
                try {
                    found.put(Long.parseLong(name.substring(6, name.length() - 4)), p);
                } catch (NumberFormatException e) {
                    LOG.warn("ignoring unexpected file in spool: {}", p);
                }
            }
        }
        return found;
    }

    /**
     * The scan thread: reads the segments found at open, then hands its state to the writer,
     * which applies what it wrote since open and makes that state the journal's.
     */
    private void scan(List<Segment> found) {
        long start = System.nanoTime();
        SpoolScan scan = new SpoolScan(System.currentTimeMillis());
        try {
            if (!scan.scan(found, () -> closed)) {
                scanned.completeExceptionally(new IOException("spool journal closed during its scan"));
                return;
            }
            submit((byte) 0, null, null, false, () -> merge(scan, found)).join();
            List<OwedEntry> result = scan.owed(java.util.Set.copyOf(found));
            owed = result;
            scanned.complete(result);
            if (!found.isEmpty()) {
                LOG.info("spool {}: {} owed records in {} segments ({} MB), scanned in {} ms", dir, result.size(),
                        found.size(), scan.bytes() >> 20, (System.nanoTime() - start) / 1_000_000);
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                LOG.error("spool {}: scan failed: {}; what it holds is kept and scanned again at the next start",
                        dir, e.toString());
            }
            scanned.completeExceptionally(e);
        }
    }

    /**
     * On the writer's thread: applies the records written since open to the scan's state
     * (they all come after what it scanned) and makes that state the journal's.
     */
    private void merge(SpoolScan scan, List<Segment> found) {
        for (Append a : sinceOpen) {
            if (a.type() == ACCEPT || a.type() == DONE) {
                scan.forget(a.id()); // the writer's live map has a re-ACCEPTed id's new place
            } else if (scan.live.containsKey(a.id())) {
                ByteBuffer body = a.frame().duplicate();
                body.position(8 + 1);
                BinaryCodec.getString(body);
                scan.apply(a.type(), a.id(), body, null, -1);
            }
        }
        Set<String> nowHeld = ConcurrentHashMap.newKeySet();
        for (String id : scan.held) {
            if (scan.live.containsKey(id)) { // a HOLD without an owed ACCEPT before it says nothing
                nowHeld.add(id);
            }
        }
        live.forEach((id, l) -> {
            scan.live.put(id, l);
            if (held.contains(id)) {
                nowHeld.add(id);
            }
        });
        live = scan.live;
        held = nowHeld;
        for (Segment s : found) {
            s.pinned = false;
        }
        sinceOpen = null;
    }
}
