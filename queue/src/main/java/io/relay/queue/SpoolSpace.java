package io.relay.queue;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The free space of the spool's file system against {@code queue.min-free-bytes} (Postfix's
 * {@code queue_minfree}): whether new mail must be refused ({@code 452 4.3.1 Insufficient
 * system storage}) so that what is already queued can still be written (DONE and DEFER
 * records) and delivered.
 *
 * <p>Strategy: one daemon thread asks the file store for its usable space once a second
 * and keeps it in a volatile; an accept only reads that figure and subtracts the bytes
 * accepted since the sample ({@link #accepted}), so a burst between two samples cannot run
 * far past the minimum and no accept ever touches the file system for this. Going below
 * the minimum logs one WARN and leaving it one INFO (with a little hysteresis, so a spool
 * hovering at the mark does not log a pair a second). {@code 0} turns the check off; the
 * minimum can change under a running node ({@link #minFreeBytes(long)}, a SIGHUP reload).
 */
public final class SpoolSpace implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SpoolSpace.class);
    public static final long DEFAULT_MIN_FREE_BYTES = 1024L * 1024 * 1024;
    private static final long SAMPLE_MILLIS = 1000;

    /** Where the node also wants the two transition lines (its mail log); called on the sampling thread. */
    public interface Transitions {
        Transitions NONE = new Transitions() {
        };

        default void low(String line) {
        }

        default void recovered(String line) {
        }
    }

    private final Path dir;
    private final LongSupplier usableBytes;
    private final Transitions transitions;
    private final AtomicLong acceptedSinceSample = new AtomicLong();
    private final ScheduledExecutorService sampler;
    private volatile long minFreeBytes;
    /** Usable bytes at the last sample; Long.MAX_VALUE until one succeeded. */
    private volatile long sampled = Long.MAX_VALUE;
    private volatile boolean low;
    private boolean sampleFailed;

    /** Samples now (a node started on a full disk refuses mail from its first session), then every second. */
    public static SpoolSpace watch(Path dir, long minFreeBytes, Transitions transitions) throws IOException {
        FileStore store = Files.getFileStore(dir);
        LongSupplier usable = () -> {
            try {
                return store.getUsableSpace();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spool-space");
            t.setDaemon(true);
            return t;
        });
        SpoolSpace space = new SpoolSpace(dir, minFreeBytes, usable, transitions, sampler);
        space.sample();
        sampler.scheduleWithFixedDelay(space::sample, SAMPLE_MILLIS, SAMPLE_MILLIS, TimeUnit.MILLISECONDS);
        return space;
    }

    /** Without a thread of its own: the caller calls {@link #sample()} (tests). */
    SpoolSpace(Path dir, long minFreeBytes, LongSupplier usableBytes, Transitions transitions) {
        this(dir, minFreeBytes, usableBytes, transitions, null);
    }

    private SpoolSpace(Path dir, long minFreeBytes, LongSupplier usableBytes, Transitions transitions,
                       ScheduledExecutorService sampler) {
        if (minFreeBytes < 0) {
            throw new IllegalArgumentException("min free bytes must not be negative");
        }
        this.dir = dir;
        this.minFreeBytes = minFreeBytes;
        this.usableBytes = usableBytes;
        this.transitions = transitions;
        this.sampler = sampler;
    }

    /** Whether new mail is refused now: below the minimum, or not yet back above it. */
    public boolean refusing() {
        long min = minFreeBytes;
        return min > 0 && (low || freeBytes() < min);
    }

    /** The reason for a refusal or a failing readiness check, while {@link #refusing()}. */
    public Optional<String> shortage() {
        return refusing() ? Optional.of(describe(freeBytes(), minFreeBytes)) : Optional.empty();
    }

    /** Bytes just handed to the spool: counted against the free space until the next sample. */
    public void accepted(long bytes) {
        acceptedSinceSample.addAndGet(bytes);
    }

    /** Usable bytes of the spool's file system: the last sample less what was accepted since. */
    public long freeBytes() {
        long s = sampled;
        return s == Long.MAX_VALUE ? s : Math.max(0, s - acceptedSinceSample.get());
    }

    public long minFreeBytes() {
        return minFreeBytes;
    }

    /** A new minimum (a SIGHUP reload), in force from the next accept; 0 turns the check off. */
    public void minFreeBytes(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("min free bytes must not be negative");
        }
        minFreeBytes = bytes;
        sample();
    }

    /** Reads the file system's usable space and logs a crossing of the minimum. */
    synchronized void sample() {
        long usable;
        try {
            usable = usableBytes.getAsLong();
        } catch (RuntimeException e) {
            if (!sampleFailed) { // once, not every second; the last good figure stays
                LOG.warn("queue.spool-dir {}: cannot read the file system's free space: {}", dir, e.toString());
                sampleFailed = true;
            }
            return;
        }
        sampleFailed = false;
        // reset first: an accept counted between the two lines is then at worst counted twice, never lost
        acceptedSinceSample.set(0);
        sampled = usable;
        long min = minFreeBytes;
        if (min <= 0) {
            if (low) {
                low = false;
                recovered(usable, min);
            }
            return;
        }
        if (!low && usable < min) {
            low = true;
            String line = "queue.spool-dir " + dir + ": " + describe(usable, min)
                    + ": new mail is refused with 452 4.3.1 until space is freed; queued mail is still delivered";
            LOG.warn(line);
            transitions.low(line);
        } else if (low && usable >= min + min / 20) {
            low = false;
            recovered(usable, min);
        }
    }

    private void recovered(long usable, long min) {
        String line = "queue.spool-dir " + dir + ": " + bytes(usable) + " free again"
                + (min > 0 ? " (queue.min-free-bytes " + bytes(min) + ")" : " (queue.min-free-bytes off)")
                + ": accepting new mail";
        LOG.info(line);
        transitions.recovered(line);
    }

    private static String describe(long free, long min) {
        return "insufficient spool space: " + bytes(free) + " free, below queue.min-free-bytes " + bytes(min);
    }

    /** Bytes for a reader: the exact figure, and MiB when it is large. */
    static String bytes(long n) {
        return n >= 1024 * 1024 ? String.format(java.util.Locale.ROOT, "%d bytes (%.1f MiB)", n, n / 1048576.0)
                : n + " bytes";
    }

    @Override
    public void close() {
        if (sampler != null) {
            sampler.shutdownNow();
        }
    }
}
