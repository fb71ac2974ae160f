package io.relay.queue;

import com.hazelcast.core.HazelcastInstance;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster-shared queue: stores accepted mail durably and schedules its delivery on
 * the member that owns it. A facade that wires its parts, each with one job and the state
 * that job needs (no collection is shared; the others go through its owner):
 *
 * <ul>
 *   <li>{@link BodyStore}: where bodies live (this node's two journals: accepted here, copies
 *       kept for others) and how they travel between members (copy, fetch, release).
 *   <li>{@link Admission}: accept (spool fsync, copies on other members' disks and the index
 *       entry at once, the last to finish completes the accept) and the high-water marks.
 *   <li>{@link FreshCache}: messages accepted and owned here, kept for their first attempt.
 *   <li>{@link OwnedEntries}: the entries this member owns and schedules, their gauges, and
 *       the rescans of {@code localKeySet()}; owns the tracked map.
 *   <li>{@link DueQueue} and {@link DeliveryWorkers}: due times in a {@code DelayQueue} and
 *       {@code queue.delivery-concurrency} workers, one per id at a time.
 *   <li>{@link Attempts}: one attempt (state, handler, write-back), applying what the pure
 *       {@link OutcomePolicy} decides: finished, expired, postponed, deferred with backoff.
 *   <li>{@link SpoolReplay}: the disk's replay after {@link #start} (the epoch rule), in the background.
 *   <li>{@link Reconciler}: disk against index every 10 s, and closely after a split.
 *   <li>{@link Rereplication}: after members change, each owned message again on
 *       {@code backup-count + 1} members' disks.
 *   <li>{@link StoreWatch}: the store's and the cluster's events, turned into scheduling.
 *   <li>{@link OperatorCommands} and {@link OperatorViews}: {@link QueueOperations}, the
 *       operator's side ({@code relayctl queue}).
 * </ul>
 *
 * <p>Message state has one encoding: {@link QueueMeta} in {@code relay-meta} (through
 * {@link BinaryCodec}), whose {@link QueueState} the gauges, the views and the selections share.
 *
 * <p>Wiring: {@code new ClusterQueue(ClusterMember.start(clusterSettings), queueSettings, events, namer)};
 * the queue owns the member from then on and shuts it down in {@link #close}.
 */
public final class ClusterQueue implements MessageQueue, QueueOperations {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    private static final long SAFETY_RESCAN_MILLIS = 10_000;
    /** Draws of {@link #newId} looking for an id whose partition this member owns. */
    static final int LOCAL_ID_TRIES = 64;
    /** Tombstones of finished messages: what lets a spool drop an entry another member delivered. */
    static final String DONE_MAP = "relay-done";
    static final long TOMBSTONE_MINUTES = 5;
    /** A held entry's worker looks at it again this often (a release normally reschedules it at once). */
    static final long HELD_RECHECK_MILLIS = 600_000;
    /** The copies kept for other members: a journal of their own under the spool directory. */
    static final String COPIES_DIR = "copies";
    /** How often release notices of finished messages go to the members that hold copies. */
    private static final long RELEASE_MILLIS = 200;

    private final ClusterMember member;
    private final QueueSettings settings;
    private final QueueEvents events;
    private final NextHopNamer hops;
    private final QueueMaps maps;
    private final SpoolJournal journal;
    private final SpoolJournal copies;
    private final BodyStore bodies;
    private final QueueIds ids = new QueueIds();
    private final String epoch;
    private final ScheduledExecutorService housekeeping;

    private final FreshCache fresh = new FreshCache();
    private final DueQueue due = new DueQueue();
    private final OwnedEntries owned;
    private final Admission admission;
    private final Reconciler reconciler;
    private final DeliveryWorkers workers;
    private final SpoolReplay replay;
    private final Rereplication rereplication;
    private final CompletableFuture<Void> replayed = new CompletableFuture<>();
    private final OperatorCommands commands;
    private final OperatorViews views;

    private volatile DeliveryHandler handler;
    private volatile boolean closing;

    /**
     * Opens the spool (replayed later, in {@link #start}) and begins tracking owned entries;
     * {@code namer} names the next hops the operator's view shows (the node's router).
     */
    public ClusterQueue(ClusterMember member, QueueSettings settings, QueueEvents events, NextHopNamer namer) {
        this.member = member;
        this.settings = settings;
        this.events = events;
        this.hops = new SafeNextHops(namer);
        HazelcastInstance hazelcast = member.hazelcast();
        this.epoch = member.epoch();
        this.maps = QueueMaps.of(hazelcast);
        try {
            this.journal = SpoolJournal.open(settings.spoolDir(), events::fsyncNanos);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open spool journal in " + settings.spoolDir(), e);
        }
        try {
            this.copies = SpoolJournal.open(settings.spoolDir().resolve(COPIES_DIR), events::fsyncNanos);
        } catch (IOException e) {
            journal.close();
            throw new UncheckedIOException("cannot open the copies journal in " + settings.spoolDir(), e);
        }
        BodyFiles acceptedFiles;
        BodyFiles copiesFiles;
        try {
            acceptedFiles = BodyFiles.open(settings.spoolDir());
            copiesFiles = BodyFiles.open(settings.spoolDir().resolve(COPIES_DIR));
        } catch (IOException e) {
            journal.close();
            copies.close();
            throw new UncheckedIOException("cannot open the body files in " + settings.spoolDir(), e);
        }
        this.bodies = new BodyStore(hazelcast, journal, copies, acceptedFiles, copiesFiles, epoch,
                member.settings().backupCount(), events);
        this.housekeeping = Executors.newSingleThreadScheduledExecutor(threads("queue-housekeeping"));
        BooleanSupplier isClosing = () -> closing;
        this.owned = new OwnedEntries(due, fresh, member, maps.meta(), housekeeping, isClosing);
        this.admission = new Admission(settings, owned, fresh, bodies, maps, epoch, hops, isClosing,
                new IndexMemory(settings.maxIndexMemory(), member.settings().backupCount(), member::memberCount));
        this.reconciler = new Reconciler(bodies, maps, member, admission, owned, hops);
        this.workers = new DeliveryWorkers(due, owned, member, settings, isClosing);
        this.replay = new SpoolReplay(bodies, maps, epoch, hops);
        this.rereplication = new Rereplication(bodies, maps, member, member.settings().backupCount(), epoch,
                isClosing);
        this.commands = new OperatorCommands(hazelcast, maps, bodies, events);
        this.views = new OperatorViews(maps, bodies);
        // where an operator change sent from any member finds this node's spool (QueueOps.Journal)
        hazelcast.getUserContext().put(QueueOps.QUEUE_CONTEXT_KEY, commands);
        bodies.register();
        new StoreWatch(hazelcast, maps.meta(), owned, fresh, admission, workers, reconciler,
                this::membersChanged).register();
        LOG.info("queue on cluster member {}: {} members", member.settings().self(),
                hazelcast.getCluster().getMembers().size());
        owned.rescan();
    }

    /**
     * A new queue id whose partition this member owns, when one is found within
     * {@value #LOCAL_ID_TRIES} draws (the ids skipped are never used; ids stay increasing).
     * The message's entries then live on the member that accepted it: the two map writes of
     * the accept and the removals after delivery are local, only their backups cross the
     * network, and the accepting member delivers the message. With N members about N draws
     * are needed, each a local partition-table lookup. While the owner of a partition is not
     * known (start, migration) the id is taken as it is: ownership is only an optimization.
     */
    @Override
    public QueueId newId() {
        QueueId id = ids.next();
        for (int i = 1; i < LOCAL_ID_TRIES && owned.ownedHere(id.value()) == Boolean.FALSE; i++) {
            id = ids.next();
        }
        return id;
    }

    /** See {@link Admission}: does not block; the last of the spool and map writes completes the future. */
    @Override
    public java.nio.file.Path incomingBody(QueueId id) {
        return bodies.incomingBody(id.value());
    }

    @Override
    public CompletableFuture<Void> accept(QueuedMessage message) {
        return admission.accept(message);
    }

    @Override
    public boolean full() {
        return admission.full();
    }

    /**
     * Starts delivering, and replays this node's disk on a thread of its own (a million
     * entries take seconds to tens of seconds): new mail is accepted and delivered meanwhile,
     * and what the replay puts back is scheduled as it goes. Reconcile and re-replication
     * wait for the replay to finish ({@link #replayed}).
     */
    @Override
    public synchronized void start(DeliveryHandler deliveryHandler) {
        if (handler != null) {
            throw new IllegalStateException("queue already started");
        }
        handler = deliveryHandler;
        workers.start(new Attempts(owned, fresh, maps, bodies, settings, hops, reconciler, events, deliveryHandler));
        Thread replaying = new Thread(() -> {
            try {
                replay.replay();
                int swept = bodies.sweepFiles(); // files whose record the replay found finished
                if (swept > 0) {
                    LOG.info("spool: removed {} body files of finished messages", swept);
                }
                replayed.complete(null);
                owned.requestRescan("spool replayed");
                rereplication.request();
            } catch (RuntimeException e) {
                if (!closing) {
                    LOG.error("spool replay failed: {}; the node's disk is replayed again at its next start",
                            e.toString());
                }
                replayed.completeExceptionally(e);
            }
        }, "queue-replay");
        replaying.setDaemon(true);
        replaying.start();
        housekeeping.scheduleWithFixedDelay(this::safely, SAFETY_RESCAN_MILLIS, SAFETY_RESCAN_MILLIS,
                TimeUnit.MILLISECONDS);
        housekeeping.scheduleWithFixedDelay(this::sendReleases, RELEASE_MILLIS, RELEASE_MILLIS, TimeUnit.MILLISECONDS);
        // not here and now: with a replay putting back a million entries, a rescan would hold up the start
        owned.requestRescan("start");
    }

    /** Completes when the replay of this node's disk after {@link #start} is done. */
    public CompletableFuture<Void> replayed() {
        return replayed;
    }

    private void membersChanged() {
        rereplication.request();
        if (replayed.isDone() && !closing) {
            try {
                housekeeping.schedule(this::rereplicate, 2, TimeUnit.SECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // closing
            }
        }
    }

    private void sendReleases() {
        try {
            bodies.sendReleases();
        } catch (RuntimeException e) {
            if (!closing) {
                LOG.debug("release notices not sent: {}", e.toString());
            }
        }
    }

    private void rereplicate() {
        try {
            if (replayed.isDone()) {
                rereplication.runIfRequested();
            }
        } catch (RuntimeException e) {
            if (!closing) {
                LOG.warn("re-replication failed: {}", e.toString());
                rereplication.request();
            }
        }
    }

    private void safely() {
        try {
            owned.rescan();
            // before the replay is done, entries not yet put back would look finished elsewhere
            if (replayed.isDone()) {
                reconciler.reconcile();
            }
        } catch (RuntimeException e) {
            if (!closing) {
                LOG.warn("queue housekeeping failed: {}", e.toString());
            }
        }
        rereplicate();
    }

    /** The spool journal (messages accepted here), for metrics and tests. */
    public SpoolJournal journal() {
        return journal;
    }

    /** The journal of copies this node keeps of messages other members accepted, for metrics and tests. */
    public SpoolJournal copiesJournal() {
        return copies;
    }

    /** The member this queue runs on (tests terminate it to simulate a crash). */
    BodyStore bodiesForTests() {
        return bodies;
    }

    ClusterMember clusterMemberForTests() {
        return member;
    }

    /** The cluster epoch this queue writes into its spool entries. */
    public String epoch() {
        return epoch;
    }

    /**
     * What the queue gauges show, from this member's own bookkeeping: its owned messages by
     * state (active, deferred, held), the oldest one's age and the accepts in flight. No
     * cluster read (where {@link #clusterEntries} reads and decodes every entry). The entries
     * list is empty.
     */
    public QueueView counts() {
        return owned.counts(admission.incoming());
    }

    /**
     * Stops taking work, lets in-flight deliveries finish (up to 30 s), flushes the spool
     * and leaves the cluster gracefully.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closing) {
                return;
            }
            closing = true;
        }
        housekeeping.shutdownNow();
        workers.close();
        // accepts under way finish on Hazelcast's and the journal's threads: let them (up to 10 s)
        admission.awaitIdle(10_000);
        sendReleases();
        journal.close();
        copies.close();
        member.close();
    }

    // --- the operator's side (QueueOperations): blocking cluster calls, not for an event loop ---

    @Override
    public List<QueueView.Entry> clusterEntries(String state, String nextHop) {
        return views.clusterEntries(state, nextHop);
    }

    @Override
    public List<String> select(String state, String nextHop) {
        return views.select(state, nextHop);
    }

    @Override
    public Map<String, String> clusterSenders() {
        return views.clusterSenders();
    }

    @Override
    public Optional<Map.Entry<QueueMeta, QueuedMessage>> find(String id) {
        return views.find(id);
    }

    @Override
    public List<String> hold(Collection<String> ids, IntConsumer progress) {
        return commands.change(ids, QueueOps.Op.HOLD, progress);
    }

    @Override
    public List<String> release(Collection<String> ids, IntConsumer progress) {
        return commands.change(ids, QueueOps.Op.RELEASE, progress);
    }

    @Override
    public List<String> retry(Collection<String> ids, IntConsumer progress) {
        return commands.change(ids, QueueOps.Op.RETRY, progress);
    }

    @Override
    public List<String> delete(Collection<String> ids, IntConsumer progress) {
        return commands.change(ids, QueueOps.Op.DELETE, progress);
    }

    static ThreadFactory threads(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
