package io.relay.queue;

import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import com.hazelcast.partition.MigrationListener;
import com.hazelcast.partition.MigrationState;
import com.hazelcast.partition.Partition;
import com.hazelcast.partition.ReplicaMigrationEvent;
import com.hazelcast.query.Predicates;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.DelayQueue;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster-shared queue: stores accepted mail durably and schedules its delivery on
 * the member that owns it.
 *
 * <p>Accept: the message goes to this node's {@link SpoolJournal} (group commit fsync) and,
 * in parallel (asynchronous writes, no thread of ours waits for them), to the two partitioned maps keyed by the queue
 * id, so both entries of a message live in one partition, which this member owns
 * ({@link #newId} draws ids until one falls in an owned partition: the writes are local and
 * only their backups travel): {@code relay-messages} (id → immutable encoded message)
 * and {@code relay-meta} (id → encoded {@link QueueMeta}). The future completes when both
 * are durable; if either fails the other is undone and the message is not accepted.
 *
 * <p>Scheduling: each member delivers the entries whose partition it owns. An accept
 * schedules its message when stored; a local entry listener on {@code relay-meta} (ADDED,
 * filtered on the partition thread to entries this node did not accept itself) schedules
 * those other members put into its partitions; a rescan of
 * {@code localKeySet()} runs at start, after partition migrations, member loss and
 * partition loss (debounced), and every 10 s as a safety net. Due ids wait in a
 * {@link DelayQueue}; {@code queue.delivery-concurrency} workers take them, call the
 * {@link DeliveryHandler} and apply the outcomes. A deferral waits
 * {@code minimal_backoff_time} doubled per attempt, capped at {@code maximal_backoff_time},
 * plus up to 10% jitter; past {@code maximal_queue_lifetime} the deferred recipients
 * expire ({@link DeliveryHandler#expired} once) and the message is removed. One tracked
 * entry per id, with a token checked by the worker, means no two workers of a member
 * hold the same message.
 *
 * <p>Spools and the store: when a member finishes a message another member accepted, the
 * message's tombstone goes into {@code relay-done} for 5 minutes (when it accepted the
 * message itself, its spool's DONE record is enough). Spool replay ({@link #start}) drops an owed entry whose
 * epoch is the running cluster's and whose id is gone from the store (delivered or bounced
 * elsewhere); otherwise (the whole cluster restarted, or still stored) it is put back if
 * absent and re-written under the current epoch so old segments can be freed. A reconcile
 * every 10 s drops entries accepted here that the store no longer has; but for an hour after
 * a partition loss or a split-brain merge it drops only those with a tombstone and puts the
 * others back from the spool (and message bodies the store lost), so a split costs
 * duplicates, never mail.
 *
 * <p>Operator changes ({@link #hold}, {@link #release}, {@link #retry}, {@link #delete}, for
 * {@code relayctl queue}) run as entry processors on {@code relay-meta} ({@link QueueOps}),
 * from any member; the worker writes a state back only by compare-and-set on the state it
 * read (keeping a hold set meanwhile), so a deleted message is never written back. The
 * owner hears of them through a local UPDATED/REMOVED listener: a release or an earlier
 * next attempt reschedules at once, a removal untracks. A held entry is not attempted; its
 * worker parks it and re-reads it every {@link #HELD_RECHECK_MILLIS} ms.
 *
 * <p>High-water marks ({@code queue.max-messages}, {@code queue.max-bytes}): counted are the
 * messages this member owns (tracked for scheduling) plus accepts in flight on this node,
 * and their content bytes.
 *
 * <p>Wiring: {@code new ClusterQueue(ClusterMember.start(clusterSettings), queueSettings, events)};
 * the queue owns the member from then on and shuts it down in {@link #close}.
 */
public final class ClusterQueue implements MessageQueue {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    private static final long SAFETY_RESCAN_MILLIS = 10_000;
    private static final long RECONCILE_AGE_MILLIS = 30_000;
    private static final int BATCH = 1000;
    /** Draws of {@link #newId} looking for an id whose partition this member owns. */
    static final int LOCAL_ID_TRIES = 64;
    /** Ids per entry-processor call of an operator change. */
    private static final int OPERATOR_BATCH = 5000;
    /** The executor that carries operator changes to every member's spool. */
    private static final String OPS_EXECUTOR = "relay-queue-ops";
    /** A postponement at least this long is written to the store (shown as deferred, with its reason). */
    private static final long SHOWN_POSTPONEMENT_MILLIS = 60_000;

    /** How long a never-tried entry's state may be seen without its message before it is dropped as debris. */
    private static final long MESSAGE_WAIT_MILLIS = 60_000;
    /** Tombstones of finished messages: what lets a spool drop an entry another member delivered. */
    static final String DONE_MAP = "relay-done";
    static final long TOMBSTONE_MINUTES = 5;
    /** After a partition loss or a split-brain merge, spools check their entries against the store this long. */
    private static final long SUSPECT_MILLIS = 3_600_000;
    private static final int SUSPECT_CHECKS_PER_RUN = 5000;
    /** A held entry's worker looks at it again this often (a release normally reschedules it at once). */
    static final long HELD_RECHECK_MILLIS = 600_000;

    private final ClusterMember member;
    private final QueueSettings settings;
    private final QueueEvents events;
    private final NextHopNamer namer;
    private final HazelcastInstance hazelcast;
    private final IMap<String, byte[]> messages;
    private final IMap<String, byte[]> meta;
    private final IMap<String, Long> done;
    private final SpoolJournal journal;
    private final QueueIds ids = new QueueIds();
    private final String epoch;

    private final DelayQueue<Due> due = new DelayQueue<>();
    private final Map<String, Tracked> tracked = new ConcurrentHashMap<>();
    private final AtomicLong trackedBytes = new AtomicLong();
    private final AtomicLong acceptingCount = new AtomicLong();
    private final AtomicLong acceptingBytes = new AtomicLong();
    private final Set<String> accepting = ConcurrentHashMap.newKeySet();
    private final Set<String> delivering = ConcurrentHashMap.newKeySet();
    private final AtomicLong tokens = new AtomicLong();
    private final AtomicBoolean rescanQueued = new AtomicBoolean();
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile long suspectSince;

    private final ScheduledExecutorService housekeeping;
    private ExecutorService workers;
    private final List<UUID> listeners = new ArrayList<>();
    private volatile DeliveryHandler handler;
    private volatile boolean closing;

    /**
     * An owned entry this member schedules: its size (high-water mark), the token of its
     * current due time, and what the queue gauges count — its state (active, deferred, held)
     * and arrival — kept up to date from every state this member writes or hears of.
     */
    private record Tracked(long size, long token, byte kind, long arrivalMillis) {
        Tracked withToken(long t) {
            return new Tracked(size, t, kind, arrivalMillis);
        }

        Tracked withKind(byte k) {
            return k == kind ? this : new Tracked(size, token, k, arrivalMillis);
        }
    }

    private static final byte ACTIVE = 0;
    private static final byte DEFERRED = 1;
    private static final byte HELD = 2;

    private static byte kindOf(QueueMeta m) {
        return m.held() ? HELD : m.deferred() ? DEFERRED : ACTIVE;
    }

    /**
     * Messages accepted and owned here, kept from the accept to their first attempt, which
     * then reads neither map (the usual life of a message: accepted, delivered at once).
     * Any change of the state in the store drops the entry (the attempt reads the store
     * then); bounded by {@link #FRESH_MAX_BYTES}, beyond which attempts read the store.
     */
    private final Map<String, Fresh> fresh = new ConcurrentHashMap<>();
    private final AtomicLong freshBytes = new AtomicLong();
    private static final long FRESH_MAX_BYTES = 32L << 20;

    private record Fresh(QueuedMessage message, byte[] state) {}

    private record Due(String id, long atMillis, long token) implements Delayed {
        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(atMillis - System.currentTimeMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public int compareTo(Delayed other) {
            return Long.compare(atMillis, ((Due) other).atMillis);
        }
    }

    public ClusterQueue(ClusterMember member, QueueSettings settings) {
        this(member, settings, QueueEvents.NONE);
    }

    public ClusterQueue(ClusterMember member, QueueSettings settings, QueueEvents events) {
        this(member, settings, events, NextHopNamer.RECIPIENT_DOMAIN);
    }

    /**
     * Opens the spool (replayed later, in {@link #start}) and begins tracking owned entries;
     * {@code namer} names the next hops the operator's view shows (the node's router).
     */
    public ClusterQueue(ClusterMember member, QueueSettings settings, QueueEvents events, NextHopNamer namer) {
        this.member = member;
        this.settings = settings;
        this.events = events;
        this.namer = namer;
        this.hazelcast = member.hazelcast();
        this.epoch = member.epoch();
        this.messages = hazelcast.getMap(ClusterMember.MESSAGES_MAP);
        this.meta = hazelcast.getMap(ClusterMember.META_MAP);
        this.done = hazelcast.getMap(DONE_MAP);
        try {
            this.journal = SpoolJournal.open(settings.spoolDir(), events::fsyncNanos);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open spool journal in " + settings.spoolDir(), e);
        }
        this.housekeeping = Executors.newSingleThreadScheduledExecutor(threads("queue-housekeeping"));
        // where an operator change sent from any member finds this node's spool (QueueOps.Journal)
        hazelcast.getUserContext().put(QueueOps.QUEUE_CONTEXT_KEY, this);
        // Entries another member put into a partition of ours (a spool restore or replay, an
        // accept while partition ownership was moving). This node's own accepts schedule
        // themselves when stored, so their events are filtered out on the partition thread and
        // never dispatched: the filter is a local listener's, evaluated here with our sets.
        listeners.add(meta.addLocalEntryListener((EntryAddedListener<String, byte[]>) event -> {
            byte[] value = event.getValue();
            QueueMeta m = value == null ? null : BinaryCodec.decodeMeta(value);
            if (m == null) {
                long now = System.currentTimeMillis();
                schedule(event.getKey(), now, 0, ACTIVE, now);
            } else {
                schedule(event.getKey(), m);
            }
        }, (com.hazelcast.query.Predicate<String, byte[]>) e -> !accepting.contains(e.getKey()), true));
        // Two registrations (Hazelcast takes the event kinds from the listener's interfaces).
        OperatorChanges operatorChanges = new OperatorChanges();
        listeners.add(meta.addLocalEntryListener((EntryUpdatedListener<String, byte[]>) operatorChanges::entryUpdated,
                Predicates.alwaysTrue(), true));
        // Removals of entries this node still tracks (an operator's delete); its own removal
        // after delivery untracks first, so that event is filtered out and never dispatched.
        listeners.add(meta.addLocalEntryListener((EntryRemovedListener<String, byte[]>) operatorChanges::entryRemoved,
                (com.hazelcast.query.Predicate<String, byte[]>) e -> tracked.containsKey(e.getKey())
                        || fresh.containsKey(e.getKey()), false));
        hazelcast.getPartitionService().addMigrationListener(new MigrationListener() {
            @Override
            public void migrationStarted(MigrationState state) {
            }

            @Override
            public void migrationFinished(MigrationState state) {
                requestRescan("migration finished");
            }

            @Override
            public void replicaMigrationCompleted(ReplicaMigrationEvent event) {
                requestRescan("replica migrated");
            }

            @Override
            public void replicaMigrationFailed(ReplicaMigrationEvent event) {
                requestRescan("replica migration failed");
            }
        });
        // The map-level listener fires only when more replicas went than the map keeps backups.
        meta.addPartitionLostListener(event -> {
            LOG.warn("queue data of partition {} lost on this side; the spools that hold its messages "
                    + "put them back", event.getPartitionId());
            suspectSince = System.currentTimeMillis();
            requestRescan("partition lost");
        });
        hazelcast.getLifecycleService().addLifecycleListener(event -> {
            if (event.getState() == com.hazelcast.core.LifecycleEvent.LifecycleState.MERGED) {
                suspectSince = System.currentTimeMillis();
                requestRescan("split-brain merge");
            }
        });
        hazelcast.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                LOG.info("cluster member {} joined; {} members", event.getMember().getAddress(), event.getMembers().size());
                requestRescan("member added");
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                LOG.warn("cluster member {} left; {} members", event.getMember().getAddress(), event.getMembers().size());
                requestRescan("member removed");
            }
        });
        LOG.info("queue on cluster member {}: {} members", member.settings().self(),
                hazelcast.getCluster().getMembers().size());
        rescan();
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
        for (int i = 1; i < LOCAL_ID_TRIES && ownedHere(id.value()) == Boolean.FALSE; i++) {
            id = ids.next();
        }
        return id;
    }

    @Override
    public CompletableFuture<Void> accept(QueuedMessage message) {
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (closing) {
            result.completeExceptionally(new IllegalStateException("queue is shutting down"));
            return result;
        }
        long size = message.size();
        long count = acceptingCount.incrementAndGet();
        long bytes = acceptingBytes.addAndGet(size);
        if (tracked.size() + count > settings.maxMessages() || trackedBytes.get() + bytes > settings.maxBytes()) {
            acceptingCount.decrementAndGet();
            acceptingBytes.addAndGet(-size);
            result.completeExceptionally(new QueueFullException(
                    "queue above high-water mark (" + tracked.size() + " messages, " + trackedBytes.get() + " bytes)"));
            return result;
        }
        String id = message.id().value();
        accepting.add(id);
        byte[] encoded = BinaryCodec.encodeMessage(message);
        byte[] state = BinaryCodec.encodeMeta(QueueMeta.fresh(message,
                nextHops(message.envelope().sender(), message.envelope().recipients())));
        Storing storing = new Storing(message, state, result);
        if (ownedHere(id) == Boolean.TRUE) {
            keepFresh(message, state);
        }
        // Three writes at once, none waited for by a thread of ours: the spool's group commit and
        // the two map writes, whose partition (the member's own, see newId) runs them in the
        // order given: the message before its state, whose ADDED event starts delivery. The
        // last of the three to complete finishes the accept on its own thread (journal writer,
        // Hazelcast partition or response thread): bookkeeping only, then the caller's future.
        journal.accept(message.id(), epoch, encoded).whenComplete(storing);
        int issued = 0;
        try {
            messages.setAsync(id, encoded).whenCompleteAsync(storing, ON_COMPLETION);
            issued++;
            meta.setAsync(id, state).whenCompleteAsync(storing, ON_COMPLETION);
            issued++;
        } catch (RuntimeException e) { // the member is shutting down
            for (; issued < 2; issued++) {
                storing.accept(null, e);
            }
        }
        return result;
    }

    /** Runs a stage's action on the thread that completed it; for short, non-blocking actions only. */
    private static final java.util.concurrent.Executor ON_COMPLETION = Runnable::run;

    /** One accept's three writes (spool, message, state): the last to complete finishes the accept. */
    private final class Storing implements java.util.function.BiConsumer<Object, Throwable> {
        private final QueuedMessage message;
        private final byte[] state;
        private final CompletableFuture<Void> result;
        private final AtomicInteger left = new AtomicInteger(3);
        private volatile Throwable error;

        Storing(QueuedMessage message, byte[] state, CompletableFuture<Void> result) {
            this.message = message;
            this.state = state;
            this.result = result;
        }

        @Override
        public void accept(Object ignored, Throwable failure) {
            if (failure != null && error == null) {
                error = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                        ? failure.getCause() : failure;
            }
            if (left.decrementAndGet() != 0) {
                return;
            }
            String id = message.id().value();
            acceptingCount.decrementAndGet();
            acceptingBytes.addAndGet(-message.size());
            accepting.remove(id);
            Throwable e = error;
            if (e == null) {
                // Scheduled here, not by the store's ADDED event (filtered out for our own accepts).
                // Ownership unknown (moving): scheduled anyway, the worker checks it again.
                if (ownedHere(id) != Boolean.FALSE) {
                    schedule(id, System.currentTimeMillis(), message.size(), ACTIVE,
                            message.envelope().arrivalMillis());
                } else {
                    takeFresh(id);
                }
                result.complete(null);
            } else {
                LOG.warn("{}: not accepted: {}", id, e.toString());
                takeFresh(id);
                undo(message.id());
                result.completeExceptionally(e);
            }
        }
    }

    private void undo(QueueId id) {
        messages.deleteAsync(id.value());
        meta.deleteAsync(id.value());
        journal.done(id);
    }

    @Override
    public boolean full() {
        return tracked.size() + acceptingCount.get() >= settings.maxMessages()
                || trackedBytes.get() + acceptingBytes.get() >= settings.maxBytes();
    }

    @Override
    public synchronized void start(DeliveryHandler deliveryHandler) {
        if (handler != null) {
            throw new IllegalStateException("queue already started");
        }
        handler = deliveryHandler;
        replaySpool();
        workers = Executors.newFixedThreadPool(settings.deliveryConcurrency(), threads("queue-delivery"));
        for (int i = 0; i < settings.deliveryConcurrency(); i++) {
            workers.execute(this::workLoop);
        }
        housekeeping.scheduleWithFixedDelay(this::safely, SAFETY_RESCAN_MILLIS, SAFETY_RESCAN_MILLIS,
                TimeUnit.MILLISECONDS);
        rescan();
    }

    @Override
    public long localMessageCount() {
        return tracked.size();
    }

    /** The spool journal, for metrics and tests. */
    public SpoolJournal journal() {
        return journal;
    }

    /** The member this queue runs on (tests terminate it to simulate a crash). */
    ClusterMember clusterMemberForTests() {
        return member;
    }

    /** The cluster epoch this queue writes into its spool entries. */
    public String epoch() {
        return epoch;
    }

    /** Snapshot of the owned entries (blocking cluster reads: not for an event loop). */
    public QueueView view() {
        Set<String> keys = meta.localKeySet();
        Map<String, byte[]> values = meta.getAll(keys);
        List<QueueView.Entry> entries = new ArrayList<>();
        values.forEach((k, v) -> entries.add(new QueueView.Entry(new QueueId(k), BinaryCodec.decodeMeta(v))));
        entries.sort(Comparator.comparingLong((QueueView.Entry e) -> e.meta().arrivalMillis())
                .thenComparing(e -> e.id().value()));
        long held = entries.stream().filter(e -> e.meta().held()).count();
        long deferred = entries.stream().filter(e -> !e.meta().held() && e.meta().deferred()).count();
        long oldest = entries.isEmpty() ? 0
                : Math.max(0, System.currentTimeMillis() - entries.get(0).meta().arrivalMillis());
        return new QueueView(entries.size() - deferred - held, deferred, oldest, entries, held, acceptingCount.get());
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
        if (workers != null) {
            workers.shutdown();
            try {
                if (!workers.awaitTermination(30, TimeUnit.SECONDS)) {
                    LOG.warn("{} deliveries still running after 30 s; leaving them", inFlight.get());
                    workers.shutdownNow();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        // accepts under way finish on Hazelcast's and the journal's threads: let them (up to 10 s)
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (acceptingCount.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        journal.close();
        member.close();
    }

    // --- spool replay and reconciliation ---

    private void replaySpool() {
        int dropped = 0;
        int requeued = 0;
        int held = 0;
        List<CompletableFuture<Void>> rewrites = new ArrayList<>();
        for (SpoolJournal.OwedEntry entry : journal.owed()) {
            String id = entry.id().value();
            byte[] stored = meta.get(id);
            boolean present = stored != null;
            // Gone from the running cluster's store: delivered or bounced elsewhere.
            if (epoch.equals(entry.epoch()) && !present) {
                journal.done(entry.id());
                dropped++;
                continue;
            }
            QueuedMessage message;
            try {
                message = journal.read(entry);
            } catch (IOException | RuntimeException e) {
                LOG.warn("{}: cannot read spool entry back from {}: {}", id, entry.segment(), e.toString());
                continue;
            }
            byte[] encoded = BinaryCodec.encodeMessage(message);
            QueueMeta state;
            if (present) {
                state = BinaryCodec.decodeMeta(stored);
            } else {
                SpoolJournal.Deferral d = entry.lastDeferral();
                String sender = message.envelope().sender();
                state = d == null ? QueueMeta.fresh(message, nextHops(sender, message.envelope().recipients()))
                        : new QueueMeta(d.pending(), d.attempts(), d.nextAttemptMillis(),
                        message.envelope().arrivalMillis(), "", message.size(), false, nextHops(sender, d.pending()));
                // an operator's hold outlives the whole cluster's restart (postsuper -h keeps it on disk too)
                state = state.withHeld(entry.held());
                if (state.pending().isEmpty()) {
                    journal.done(entry.id());
                    dropped++;
                    continue;
                }
                messages.set(id, encoded);
                meta.putIfAbsent(id, BinaryCodec.encodeMeta(state));
            }
            rewrites.add(journal.accept(entry.id(), epoch, encoded));
            // A later ACCEPT resets what a replay knows of the entry: the state goes after it again.
            if (state.deferred()) {
                journal.deferred(entry.id(), state.attempts(), state.nextAttemptMillis(), state.pending());
            }
            if (state.held()) {
                rewrites.add(journal.held(entry.id(), true));
                held++;
            }
            requeued++;
        }
        rewrites.add(journal.flush());
        CompletableFuture.allOf(rewrites.toArray(CompletableFuture[]::new)).join();
        if (dropped + requeued > 0) {
            LOG.info("spool replay: {} entries re-enqueued under epoch {} ({} on hold), {} dropped (delivered elsewhere)",
                    requeued, epoch, held, dropped);
        }
    }

    private void safely() {
        try {
            rescan();
            reconcile();
        } catch (RuntimeException e) {
            if (!closing) {
                LOG.warn("queue housekeeping failed: {}", e.toString());
            }
        }
    }

    /**
     * Spool entries accepted here, at least 30 s old: DONE when a tombstone says another
     * member finished them; put back into the store when it no longer has them and no
     * tombstone says why (a partition lost on this side of a split, a merge that did not
     * carry them). After a partition loss or a merge, also checks that the message body is
     * still there, for a bounded number of entries per run.
     */
    private void reconcile() {
        long cutoff = System.currentTimeMillis() - RECONCILE_AGE_MILLIS;
        List<QueueId> candidates = journal.owedAcceptedBefore(cutoff);
        boolean safe = member.clusterSafe();
        boolean suspect = System.currentTimeMillis() - suspectSince < SUSPECT_MILLIS;
        int bodyChecks = 0;
        int restored = 0;
        for (int i = 0; i < candidates.size(); i += BATCH) {
            Set<String> keys = new HashSet<>();
            for (QueueId id : candidates.subList(i, Math.min(candidates.size(), i + BATCH))) {
                if (!accepting.contains(id.value())) {
                    keys.add(id.value());
                }
            }
            Set<String> present = meta.getAll(keys).keySet();
            Set<String> absent = new HashSet<>(keys);
            absent.removeAll(present);
            Set<String> finished = absent.isEmpty() ? Set.of() : done.getAll(absent).keySet();
            for (String key : absent) {
                if (!finished.contains(key) && suspect) {
                    // No tombstone after a partition loss or a merge: the store may have lost it.
                    if (safe && restore(new QueueId(key), true)) {
                        restored++;
                    }
                } else {
                    journal.done(new QueueId(key));
                }
            }
            if (suspect && safe && bodyChecks < SUSPECT_CHECKS_PER_RUN) {
                for (String key : present) {
                    if (bodyChecks++ >= SUSPECT_CHECKS_PER_RUN) {
                        break;
                    }
                    if (!messages.containsKey(key) && restore(new QueueId(key), false)) {
                        restored++;
                    }
                }
            }
        }
        if (restored > 0) {
            LOG.warn("put {} messages back from this node's spool that the cluster store no longer had "
                    + "(after a partition loss or a split); some may be delivered twice", restored);
        }
    }

    /** Puts an owed message back from the spool: its body, and (if {@code withState}) a fresh delivery state. */
    private boolean restore(QueueId id, boolean withState) {
        java.util.Optional<QueuedMessage> m = journal.readOwed(id);
        if (m.isEmpty()) {
            return false;
        }
        messages.set(id.value(), BinaryCodec.encodeMessage(m.get()));
        if (withState) {
            Envelope e = m.get().envelope();
            meta.putIfAbsent(id.value(), BinaryCodec.encodeMeta(QueueMeta.fresh(m.get(),
                    nextHops(e.sender(), e.recipients())).withHeld(journal.isHeld(id))));
        }
        return true;
    }

    // --- ownership tracking ---

    private void requestRescan(String why) {
        if (closing || !rescanQueued.compareAndSet(false, true)) {
            return;
        }
        try {
            housekeeping.schedule(() -> {
                rescanQueued.set(false);
                LOG.debug("rescanning owned entries: {}", why);
                try {
                    rescan();
                } catch (RuntimeException e) {
                    if (!closing) {
                        LOG.warn("rescan after {} failed: {}", why, e.toString());
                    }
                }
            }, 200, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            rescanQueued.set(false);
        }
    }

    /** Tracks every owned entry not tracked yet; forgets tracked entries owned elsewhere now. */
    private void rescan() {
        if (closing || !member.running()) {
            return;
        }
        for (String id : tracked.keySet()) {
            if (ownedHere(id) == Boolean.FALSE) {
                untrack(id);
            }
        }
        List<String> missing = new ArrayList<>();
        for (String id : meta.localKeySet()) {
            if (!tracked.containsKey(id)) {
                missing.add(id);
            }
        }
        for (int i = 0; i < missing.size(); i += BATCH) {
            Map<String, byte[]> values = meta.getAll(new HashSet<>(missing.subList(i, Math.min(missing.size(), i + BATCH))));
            values.forEach((id, v) -> {
                schedule(id, BinaryCodec.decodeMeta(v));
            });
        }
    }

    /** TRUE/FALSE when the partition owner is known, null while it is being decided. */
    private Boolean ownedHere(String id) {
        Partition partition = hazelcast.getPartitionService().getPartition(id);
        if (partition == null || partition.getOwner() == null) {
            return null;
        }
        return partition.getOwner().localMember();
    }

    private void schedule(String id, QueueMeta m) {
        schedule(id, m.nextAttemptMillis(), m.size(), kindOf(m), m.arrivalMillis());
    }

    private void schedule(String id, long atMillis, long size, byte kind, long arrivalMillis) {
        if (closing) {
            return;
        }
        long token = tokens.incrementAndGet();
        if (tracked.putIfAbsent(id, new Tracked(size, token, kind, arrivalMillis)) == null) {
            trackedBytes.addAndGet(size);
            due.add(new Due(id, atMillis, token));
        }
    }

    private void reschedule(String id, long atMillis) {
        long token = tokens.incrementAndGet();
        Tracked now = tracked.computeIfPresent(id, (k, t) -> t.withToken(token));
        if (now != null) {
            due.add(new Due(id, atMillis, token));
        }
    }

    private void keepFresh(QueuedMessage message, byte[] state) {
        if (freshBytes.get() + message.size() <= FRESH_MAX_BYTES
                && fresh.putIfAbsent(message.id().value(), new Fresh(message, state)) == null) {
            freshBytes.addAndGet(message.size());
        }
    }

    private Fresh takeFresh(String id) {
        Fresh f = fresh.remove(id);
        if (f != null) {
            freshBytes.addAndGet(-f.message().size());
        }
        return f;
    }

    private void kind(String id, byte kind) {
        tracked.computeIfPresent(id, (k, t) -> t.withKind(kind));
    }

    /**
     * What the queue gauges show, from this member's own bookkeeping: its owned messages by
     * state (active, deferred, held), the oldest one's age and the accepts in flight. No
     * cluster read: one pass over an in-memory map, a few milliseconds with 200k queued
     * (where {@link #view} reads and decodes every entry). The entries list is empty.
     */
    public QueueView counts() {
        long active = 0;
        long deferred = 0;
        long held = 0;
        long oldest = Long.MAX_VALUE;
        for (Tracked t : tracked.values()) {
            switch (t.kind()) {
                case DEFERRED -> deferred++;
                case HELD -> held++;
                default -> active++;
            }
            oldest = Math.min(oldest, t.arrivalMillis());
        }
        long age = oldest == Long.MAX_VALUE ? 0 : Math.max(0, System.currentTimeMillis() - oldest);
        return new QueueView(active, deferred, age, List.of(), held, acceptingCount.get());
    }

    private void untrack(String id) {
        takeFresh(id);
        Tracked gone = tracked.remove(id);
        if (gone != null) {
            trackedBytes.addAndGet(-gone.size());
        }
    }

    // --- delivery ---

    private void workLoop() {
        while (!closing) {
            Due next;
            try {
                next = due.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (next == null || closing) {
                continue;
            }
            Tracked t = tracked.get(next.id());
            if (t == null || t.token() != next.token()) {
                continue;
            }
            if (!delivering.add(next.id())) {
                reschedule(next.id(), System.currentTimeMillis() + 100);
                continue;
            }
            inFlight.incrementAndGet();
            try {
                Boolean owned = ownedHere(next.id());
                if (owned == null) {
                    reschedule(next.id(), System.currentTimeMillis() + 500);
                } else if (!owned) {
                    untrack(next.id());
                } else {
                    attempt(next.id());
                }
            } catch (RuntimeException e) {
                if (!closing && member.running()) {
                    LOG.warn("{}: delivery step failed, retrying after minimal backoff: {}", next.id(), e.toString());
                    reschedule(next.id(), System.currentTimeMillis() + settings.minimalBackoff().toMillis());
                }
            } finally {
                delivering.remove(next.id());
                inFlight.decrementAndGet();
            }
        }
    }

    private void attempt(String id) {
        Fresh kept = takeFresh(id);
        byte[] stateBytes = kept != null ? kept.state() : meta.get(id);
        if (stateBytes == null) {
            // Finished elsewhere, or gone with a lost partition: the spool that owes it decides
            // (reconcile), never this absence alone.
            untrack(id);
            return;
        }
        QueueMeta state = BinaryCodec.decodeMeta(stateBytes);
        if (kept == null) { // a kept message is active, as its accept counted it
            kind(id, kindOf(state));
        }
        long now = System.currentTimeMillis();
        if (state.held()) {
            reschedule(id, now + HELD_RECHECK_MILLIS);
            return;
        }
        if (state.nextAttemptMillis() > now + 20) {
            reschedule(id, state.nextAttemptMillis());
            return;
        }
        QueuedMessage message = kept != null ? kept.message() : storedMessage(id, state, now);
        if (message == null) {
            return;
        }
        int attemptNo = state.attempts() + 1;
        events.active(message, attemptNo, state.pending().size());
        List<RecipientOutcome> outcomes;
        try {
            outcomes = handler.deliver(new DeliveryAttempt(message, state.pending(), attemptNo));
            if (outcomes == null) {
                throw new IllegalStateException("delivery handler returned no outcomes");
            }
        } catch (RuntimeException e) {
            LOG.warn("{}: delivery handler failed; deferring all pending recipients", id, e);
            events.handlerFailed(message.id(), e);
            String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            outcomes = state.pending().stream()
                    .<RecipientOutcome>map(r -> new RecipientOutcome.Deferred(r, reason)).toList();
        }
        Map<String, RecipientOutcome> byRecipient = new HashMap<>();
        outcomes.forEach(o -> byRecipient.putIfAbsent(o.recipient(), o));
        List<String> stillPending = new ArrayList<>();
        List<RecipientOutcome.Deferred> deferred = new ArrayList<>();
        List<RecipientOutcome.Deferred> postponedAsDeferred = new ArrayList<>();
        long postponedUntil = Long.MAX_VALUE;
        for (String recipient : state.pending()) {
            RecipientOutcome o = byRecipient.get(recipient);
            if (o == null) {
                o = new RecipientOutcome.Deferred(recipient, "delivery handler gave no outcome");
            }
            if (o instanceof RecipientOutcome.Deferred d) {
                stillPending.add(recipient);
                deferred.add(d);
            } else if (o instanceof RecipientOutcome.Postponed p) {
                stillPending.add(recipient);
                postponedUntil = Math.min(postponedUntil, p.notBeforeMillis());
                postponedAsDeferred.add(new RecipientOutcome.Deferred(recipient, p.reason()));
            }
        }
        long after = System.currentTimeMillis();
        if (stillPending.isEmpty()) {
            finish(message.id());
        } else if (after - state.arrivalMillis() >= settings.maximalQueueLifetime().toMillis()) {
            List<RecipientOutcome.Deferred> last = new ArrayList<>(deferred);
            last.addAll(postponedAsDeferred);
            try {
                handler.expired(message, last);
            } catch (RuntimeException e) {
                LOG.warn("{}: expiry handler failed; removing the message anyway", id, e);
            }
            finish(message.id());
        } else if (deferred.isEmpty()) {
            // Only postponed (besides delivered or failed ones): no attempt is counted and
            // there is no backoff. The state is rewritten only when recipients were done.
            long next = Math.max(postponedUntil, after);
            // A long hold (a quota's next slot, hours away) goes into the store with its reason:
            // the operator's view shows it held back and why, and a retry, which moves the stored
            // next attempt earlier, reaches it. Short holds (busy lane, send rate) stay local, so a
            // throttled lane costs no write per message per slot.
            boolean shown = next - after >= SHOWN_POSTPONEMENT_MILLIS;
            String reason = shown ? postponedAsDeferred.get(0).reason() : state.lastReason();
            if (stillPending.size() != state.pending().size() || (shown && (next != state.nextAttemptMillis()
                    || !java.util.Objects.equals(reason, state.lastReason())))) {
                QueueMeta written = new QueueMeta(stillPending, state.attempts(), next, state.arrivalMillis(),
                        reason == null ? "" : reason, state.size(), false,
                        nextHops(message.envelope().sender(), stillPending));
                if (!writeBack(id, stateBytes, written)) {
                    return;
                }
                journal.deferred(message.id(), state.attempts(), next, stillPending);
                kind(id, kindOf(written));
            }
            events.postponed(message.id(), stillPending.size(), next - after);
            reschedule(id, next);
        } else {
            long delay = settings.backoffMillis(attemptNo);
            long next = after + delay + ThreadLocalRandom.current().nextLong(delay / 10 + 1);
            next = Math.min(next, Math.max(postponedUntil, after));
            String reason = deferred.get(0).reason() == null ? "" : deferred.get(0).reason();
            if (!writeBack(id, stateBytes, new QueueMeta(stillPending, attemptNo, next,
                    state.arrivalMillis(), reason, state.size(), false,
                    nextHops(message.envelope().sender(), stillPending)))) {
                return;
            }
            journal.deferred(message.id(), attemptNo, next, stillPending);
            kind(id, DEFERRED);
            reschedule(id, next);
        }
    }

    /**
     * The message of an attempt from the store; null when the attempt does not go on (it is
     * rescheduled, or finished when its body is gone past the queue lifetime).
     */
    private QueuedMessage storedMessage(String id, QueueMeta state, long now) {
        byte[] messageBytes = messages.get(id);
        if (messageBytes == null && now - state.arrivalMillis() < MESSAGE_WAIT_MILLIS && state.attempts() == 0) {
            reschedule(id, now + 50); // defensive: wait for a store racing this read
            return null;
        }
        if (messageBytes == null) {
            java.util.Optional<QueuedMessage> spooled = journal.readOwed(new QueueId(id));
            if (spooled.isPresent()) {
                messages.set(id, BinaryCodec.encodeMessage(spooled.get()));
                return spooled.get();
            } else if (now - state.arrivalMillis() < settings.maximalQueueLifetime().toMillis()) {
                // The body went with a lost partition; the spool of the node that accepted it
                // puts it back (reconcile). Never drop the state on this alone.
                LOG.warn("{}: delivery state without message in the store; waiting for the spool that "
                        + "holds it to put it back", id);
                suspectSince = now;
                reschedule(id, now + settings.minimalBackoff().toMillis());
                return null;
            } else {
                LOG.error("{}: message body missing past maximal_queue_lifetime; removing its delivery "
                        + "state (recipients {})", id, state.pending());
                finish(new QueueId(id));
                return null;
            }
        }
        return BinaryCodec.decodeMessage(messageBytes);
    }

    /**
     * Writes the state after an attempt by compare-and-set on the state the attempt read,
     * keeping an operator's hold set meanwhile. False (and untracked) when an operator
     * deleted the message meanwhile: it is not written back.
     */
    private boolean writeBack(String id, byte[] read, QueueMeta next) {
        byte[] seen = read;
        for (int i = 0; i < 20; i++) {
            boolean held = BinaryCodec.decodeMeta(seen).held();
            if (meta.replace(id, seen, BinaryCodec.encodeMeta(next.withHeld(held)))) {
                return true;
            }
            seen = meta.get(id);
            if (seen == null) {
                LOG.info("{}: deleted by an operator during its delivery attempt", id);
                untrack(id);
                return false;
            }
        }
        throw new IllegalStateException("delivery state kept changing under the worker");
    }

    /** The owner's side of operator changes: reschedule a release or an earlier attempt, untrack a removal. */
    private final class OperatorChanges {
        void entryUpdated(EntryEvent<String, byte[]> event) {
            takeFresh(event.getKey()); // the state changed: an attempt reads it from the store now
            if (event.getValue() == null) {
                return;
            }
            QueueMeta now = BinaryCodec.decodeMeta(event.getValue());
            kind(event.getKey(), kindOf(now));
            QueueMeta before = event.getOldValue() == null ? null : BinaryCodec.decodeMeta(event.getOldValue());
            if (now.held() || (before != null && !before.held()
                    && now.nextAttemptMillis() >= before.nextAttemptMillis())) {
                return;
            }
            String id = event.getKey();
            if (tracked.containsKey(id)) {
                reschedule(id, now.nextAttemptMillis());
            } else {
                schedule(id, now);
            }
        }

        void entryRemoved(EntryEvent<String, byte[]> event) {
            takeFresh(event.getKey());
            if (!delivering.contains(event.getKey())) {
                untrack(event.getKey());
            }
        }
    }

    // --- the operator's view and changes, cluster-wide (blocking cluster calls: not for an event loop) ---

    /** Every message's delivery state in the cluster, oldest first. */
    public List<QueueView.Entry> clusterEntries() {
        return clusterEntries(null, null);
    }

    /**
     * The delivery states in {@code state} (hold, deferred, active; null: any) with a pending
     * recipient routed to {@code nextHop} (null: any), oldest first. The filter runs on the
     * members that own the entries; only the matches travel.
     */
    public List<QueueView.Entry> clusterEntries(String state, String nextHop) {
        Collection<Map.Entry<String, byte[]>> found = state == null && nextHop == null ? meta.entrySet()
                : meta.entrySet(new QueueOps.Matches(state, nextHop));
        List<QueueView.Entry> out = new ArrayList<>(found.size());
        for (Map.Entry<String, byte[]> e : found) {
            out.add(new QueueView.Entry(new QueueId(e.getKey()), BinaryCodec.decodeMeta(e.getValue())));
        }
        out.sort(Comparator.comparingLong((QueueView.Entry e) -> e.meta().arrivalMillis())
                .thenComparing(e -> e.id().value()));
        return out;
    }

    /** The ids of {@link #clusterEntries(String, String)}, selected on the owners; only the ids travel. */
    public List<String> select(String state, String nextHop) {
        Set<String> keys = state == null && nextHop == null ? meta.keySet()
                : meta.keySet(new QueueOps.Matches(state, nextHop));
        List<String> out = new ArrayList<>(keys);
        // queue ids begin with their accept time: roughly oldest first without reading states
        out.sort(Comparator.naturalOrder());
        return out;
    }

    /** The sender of every message in the cluster store (id to sender, "" for the null sender). */
    public Map<String, String> clusterSenders() {
        Map<String, String> out = new HashMap<>();
        for (String[] pair : messages.project(new QueueOps.Sender())) {
            out.put(pair[0], pair[1]);
        }
        return out;
    }

    /** One message and its state, wherever it is owned; empty when not queued. */
    public java.util.Optional<Map.Entry<QueueMeta, QueuedMessage>> find(String id) {
        byte[] state = meta.get(id);
        if (state == null) {
            return java.util.Optional.empty();
        }
        byte[] body = messages.get(id);
        return java.util.Optional.of(Map.entry(BinaryCodec.decodeMeta(state),
                body == null ? null : BinaryCodec.decodeMessage(body)));
    }

    /**
     * Puts these messages on hold ({@code postsuper -h}); answers the ids that were not held
     * before. The hold is also written (fsync'd) to the spool of the node that accepted each
     * message, so it outlives a restart of the whole cluster.
     */
    public List<String> hold(Collection<String> ids, IntConsumer progress) {
        return change(ids, QueueOps.Op.HOLD, progress);
    }

    /** Releases held messages ({@code postsuper -H}); they are due at their old next attempt time. */
    public List<String> release(Collection<String> ids, IntConsumer progress) {
        return change(ids, QueueOps.Op.RELEASE, progress);
    }

    /** Makes these (not held) messages due now ({@code postqueue -f}); the owner attempts them at once. */
    public List<String> retry(Collection<String> ids, IntConsumer progress) {
        return change(ids, QueueOps.Op.RETRY, progress);
    }

    /**
     * Removes these messages ({@code postsuper -d}): a tombstone first (so a spool that holds
     * a message and reconciles meanwhile drops it), then the state atomically, then the body,
     * then a DONE fsync'd in the spool that accepted it, so it stays deleted after a restart
     * of the whole cluster.
     */
    public List<String> delete(Collection<String> ids, IntConsumer progress) {
        return change(ids, QueueOps.Op.DELETE, progress);
    }

    /**
     * Batches of {@link #OPERATOR_BATCH} ids, each one entry-processor call per map: Hazelcast
     * groups the keys by partition and runs them on the owners, so a batch costs a few round
     * trips whatever its size. {@code progress} hears the count done after each batch.
     */
    private List<String> change(Collection<String> ids, QueueOps.Op op, IntConsumer progress) {
        List<String> all = new ArrayList<>(new java.util.LinkedHashSet<>(ids));
        List<String> touched = new ArrayList<>();
        for (int i = 0; i < all.size(); i += OPERATOR_BATCH) {
            Set<String> batch = new java.util.LinkedHashSet<>(all.subList(i, Math.min(all.size(), i + OPERATOR_BATCH)));
            long now = System.currentTimeMillis();
            if (op == QueueOps.Op.DELETE) {
                done.executeOnKeys(batch, new QueueOps.Tombstone(now, TOMBSTONE_MINUTES));
            }
            Map<String, Boolean> changed = meta.executeOnKeys(batch, new QueueOps.Change(op, now));
            List<String> hit = new ArrayList<>();
            for (String id : batch) {
                if (Boolean.TRUE.equals(changed.get(id))) {
                    hit.add(id);
                }
            }
            if (op == QueueOps.Op.DELETE && !hit.isEmpty()) {
                messages.executeOnKeys(new HashSet<>(hit), new QueueOps.Remove());
                hit.forEach(id -> events.removed(new QueueId(id)));
            }
            if (op != QueueOps.Op.RETRY) {
                journalOnAllMembers(op, hit);
            }
            touched.addAll(hit);
            progress.accept(Math.min(all.size(), i + OPERATOR_BATCH));
        }
        return touched;
    }

    /**
     * Sends the change to every member, whose spool records it for the ids it accepted (the
     * others skip them); waits for their fsyncs. A member that does not answer is logged: its
     * entries are still in the store, and its replay on rejoining writes their state again.
     */
    private void journalOnAllMembers(QueueOps.Op op, List<String> ids) {
        if (ids.isEmpty()) {
            return;
        }
        Map<com.hazelcast.cluster.Member, java.util.concurrent.Future<Integer>> answers = hazelcast
                .getExecutorService(OPS_EXECUTOR).submitToAllMembers(new QueueOps.Journal(op, ids.toArray(String[]::new)));
        answers.forEach((m, f) -> {
            try {
                f.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.warn("queue {} of {} messages not recorded in the spool of member {}: {}; it takes the store's "
                        + "state when it replays", op.name().toLowerCase(java.util.Locale.ROOT), ids.size(),
                        m.getAddress(), e.toString());
            }
        });
    }

    /**
     * On each member ({@link QueueOps.Journal}): records an operator change in this node's
     * spool for the ids it owes, fsync'd before answering; answers how many it owed.
     */
    int journalLocally(QueueOps.Op op, String[] ids) {
        int owed = 0;
        for (String id : ids) {
            QueueId q = new QueueId(id);
            if (!journal.owes(q)) {
                continue;
            }
            owed++;
            switch (op) {
                case HOLD -> journal.held(q, true);
                case RELEASE -> journal.held(q, false);
                case DELETE -> journal.done(q);
                default -> owed--;
            }
        }
        if (owed > 0) {
            journal.flush().join();
        }
        return owed;
    }

    private List<String> nextHops(String sender, List<String> recipients) {
        try {
            return namer.nextHops(sender, recipients);
        } catch (RuntimeException e) {
            LOG.debug("naming next hops failed; recipient domains instead: {}", e.toString());
            return NextHopNamer.RECIPIENT_DOMAIN.nextHops(sender, recipients);
        }
    }

    private void finish(QueueId id) {
        // The tombstone first: the spool that accepted the message drops it only on seeing one.
        // When that spool is this node's, its own DONE record says so and no tombstone is needed
        // (the usual case: ids fall in partitions of the accepting member, see newId).
        if (!journal.owes(id)) {
            done.setAsync(id.value(), System.currentTimeMillis(), TOMBSTONE_MINUTES, TimeUnit.MINUTES);
        }
        // Untracked before the removal, so its REMOVED event is filtered out (see the listeners).
        untrack(id.value());
        // Not waited for. Same partition, so they run in this order: the state (what schedules the
        // message) before the message. A crash before their backups landed costs at most a
        // second delivery (the promise is at least once).
        meta.deleteAsync(id.value());
        messages.deleteAsync(id.value());
        journal.done(id);
        events.removed(id);
    }

    private static ThreadFactory threads(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
