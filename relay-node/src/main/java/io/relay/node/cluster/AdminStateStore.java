package io.relay.node.cluster;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryMergedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.relay.routing.Cidr;
import io.relay.routing.NetworkSet;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the admin changes ({@link AdminState}) for the whole cluster and this node's copy
 * of the effective mynetworks in step with them.
 *
 * <p>Strategy: the state is one entry of the Hazelcast map {@code relay-admin}, changed by
 * compare-and-set so two concurrent changes through different nodes both land. An entry
 * listener on every node takes each new value the event carries (it reads the entry instead
 * when an event is not newer than what the node already took) and swaps the node's
 * {@link NetworkSet} (a volatile reference the SMTP sessions read without any cluster
 * call), usually within milliseconds. Every state a node takes is also written to
 * {@code <spool-dir>/admin-state.json} (temporary file, fsync, atomic rename) by a writer
 * thread, so a slow disk does not delay the next change taking force; and at start
 * a node puts its file's state into the cluster when the cluster has none or an older one:
 * after a full-cluster restart the newest version any node saw wins. The file is 0600: the
 * state holds the admin credentials' passwords (the DKIM private keys only sealed, see
 * {@link DkimKeyVault}). After a split-brain merge the higher
 * version wins ({@link AdminStateMergePolicy}) and every node follows the merged entry.
 *
 * <p>The routing overlay (transport entries, limits, credentials) goes the same way to
 * {@code routing}, which rebuilds the node's router from it.
 */
public final class AdminStateStore implements AutoCloseable {
    static final String MAP = "relay-admin";
    static final String NETWORKS = "networks";
    static final String FILE = "admin-state.json";
    private static final Logger LOG = LoggerFactory.getLogger(AdminStateStore.class);

    private final IMap<String, String> map;
    private final List<String> configured;
    private final Path file;
    private final Consumer<NetworkSet> apply;
    private final Consumer<AdminState> routing;
    private final Clock clock;
    private volatile AdminState current = AdminState.EMPTY;
    private UUID listener;
    /** The newest state not yet on disk; the writer thread takes it, so a slow fsync never delays the next state. */
    private final java.util.concurrent.atomic.AtomicReference<AdminState> unsaved =
            new java.util.concurrent.atomic.AtomicReference<>();
    private final java.util.concurrent.ExecutorService writer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "admin-state-writer");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param configured the config file's {@code smtpd.mynetworks}
     * @param apply      takes each new effective set (e.g. {@code RelayPolicy::mynetworks})
     */
    public AdminStateStore(HazelcastInstance hazelcast, List<String> configured, Path spoolDir,
                           Consumer<NetworkSet> apply, Clock clock) {
        this(hazelcast, configured, spoolDir, apply, s -> { }, clock);
    }

    /** As above; {@code routing} takes each new state's routing overlay (e.g. {@code RoutingOverlay::apply}). */
    public AdminStateStore(HazelcastInstance hazelcast, List<String> configured, Path spoolDir,
                           Consumer<NetworkSet> apply, Consumer<AdminState> routing, Clock clock) {
        this.routing = routing;
        this.map = hazelcast.getMap(MAP);
        this.configured = configured.stream().map(c -> Cidr.parse(c).text()).distinct().toList();
        this.file = spoolDir.resolve(FILE);
        this.apply = apply;
        this.clock = clock;
    }

    /** Seeds the cluster from the file when it holds a newer state, then follows the cluster. */
    public void start() {
        AdminState saved = readFile();
        listener = map.addEntryListener(new Follow(), NETWORKS, true);
        while (saved != null) {
            String inCluster = map.get(NETWORKS);
            if (inCluster == null) {
                if (map.putIfAbsent(NETWORKS, saved.toJson()) == null) {
                    LOG.info("admin state version {} restored from {}", saved.version(), file);
                    break;
                }
            } else if (AdminState.fromJson(inCluster).version() < saved.version()) {
                if (map.replace(NETWORKS, inCluster, saved.toJson())) {
                    LOG.info("admin state version {} restored from {} (the cluster had an older one)",
                            saved.version(), file);
                    break;
                }
            } else {
                break;
            }
        }
        refresh();
    }

    /** The networks in force on this node now. */
    public List<String> effective() {
        return current.effective(configured);
    }

    public AdminState state() {
        return current;
    }

    public List<String> configured() {
        return configured;
    }

    /**
     * Applies {@code change} to the cluster's state (retried on a concurrent change) and
     * returns the state in force afterwards. A change that alters nothing writes nothing.
     */
    public AdminState change(UnaryOperator<AdminState> change) {
        while (true) {
            String before = map.get(NETWORKS);
            AdminState old = before == null ? AdminState.EMPTY : AdminState.fromJson(before);
            AdminState next = change.apply(old);
            if (next == old) {
                refresh();
                return old;
            }
            boolean stored = before == null ? map.putIfAbsent(NETWORKS, next.toJson()) == null
                    : map.replace(NETWORKS, before, next.toJson());
            if (stored) {
                refresh();
                return next;
            }
        }
    }

    public long now() {
        return clock.millis();
    }

    /** Reads the cluster's state and takes it; serialized so a slower reader never undoes a newer state. */
    private synchronized void refresh() {
        String json = map.get(NETWORKS);
        if (json == null) {
            return; // no change made yet (or the entry was lost with its members): keep what is in force
        }
        take(AdminState.fromJson(json));
    }

    /**
     * Takes the state an event carried when it is newer than the one in force: no cluster
     * read on the way to putting a change in force. Anything else (an event that arrives
     * after this node already read a newer state, a merged or re-created entry) is settled
     * by reading the entry, as {@link #refresh} does.
     */
    private synchronized void offer(String json) {
        AdminState s = AdminState.fromJson(json);
        if (s.version() > current.version()) {
            take(s);
        } else if (!s.equals(current)) {
            refresh();
        }
    }

    private void take(AdminState s) {
        if (s.equals(current)) {
            return;
        }
        apply.accept(NetworkSet.parse(s.effective(configured)));
        routing.accept(s);
        current = s;
        persist(s);
    }

    /**
     * Queues {@code s} for the file. One writer thread writes the newest queued state (states
     * queued while it writes are coalesced), so the file never goes back to an older state and
     * the fsync is not on the path that puts a change in force.
     */
    private void persist(AdminState s) {
        if (unsaved.getAndSet(s) == null) {
            try {
                writer.execute(this::drain);
            } catch (java.util.concurrent.RejectedExecutionException closed) {
                drain();
            }
        }
    }

    private void drain() {
        AdminState s;
        while ((s = unsaved.getAndSet(null)) != null) {
            writeFile(s);
        }
    }

    private AdminState readFile() {
        if (!Files.exists(file)) {
            return null;
        }
        try {
            return AdminState.fromJson(Files.readString(file));
        } catch (IOException | IllegalArgumentException e) {
            LOG.warn("{} unreadable, ignored: {}", file, e.getMessage());
            return null;
        }
    }

    private void writeFile(AdminState s) {
        Path tmp = file.resolveSibling(FILE + ".tmp");
        try {
            Files.deleteIfExists(tmp);
            try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
                ByteBuffer buf = ByteBuffer.wrap(s.toJson().getBytes(StandardCharsets.UTF_8));
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
                dir.force(true); // the rename itself must survive a crash
            } catch (IOException ignored) {
                // some file systems cannot open a directory; the rename is still atomic
            }
        } catch (IOException e) {
            LOG.warn("cannot write {}: {} (the cluster still holds the state)", file, e.getMessage());
        }
    }

    @Override
    public void close() {
        writer.shutdown();
        try {
            if (!writer.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS)) {
                LOG.warn("{} not written within 5 s at close (the cluster still holds the state)", file);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (listener != null) {
            try {
                map.removeEntryListener(listener);
            } catch (RuntimeException e) {
                LOG.debug("admin listener removal: {}", e.toString());
            }
        }
    }

    /** Runs on Hazelcast's event threads, never on an SMTP event loop. */
    private final class Follow implements EntryAddedListener<String, String>, EntryUpdatedListener<String, String>,
            EntryMergedListener<String, String> {
        @Override
        public void entryAdded(EntryEvent<String, String> event) {
            follow(event.getValue());
        }

        /** After a split-brain merge ({@link AdminStateMergePolicy}): the losing half takes the winner's state. */
        @Override
        public void entryMerged(EntryEvent<String, String> event) {
            follow(null);
        }

        @Override
        public void entryUpdated(EntryEvent<String, String> event) {
            follow(event.getValue());
        }

        /** {@code json}: the value the event carried, or null to read the entry. */
        private void follow(String json) {
            try {
                if (json == null) {
                    refresh();
                } else {
                    offer(json);
                }
            } catch (RuntimeException e) {
                LOG.warn("admin state refresh failed: {}", e.toString());
            }
        }
    }
}
