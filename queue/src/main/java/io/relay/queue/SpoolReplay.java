package io.relay.queue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replay of this node's disk at start (the epoch rule), for both journals of the
 * {@link BodyStore}, in batches of {@value #BATCH}, on a thread of its own while the node
 * already serves SMTP and delivers: an owed entry whose epoch is the running cluster's and
 * whose id is gone from the index was delivered or bounced elsewhere (DONE, dropped);
 * otherwise (the whole cluster restarted, or it is still indexed) its index entry is put
 * back if absent (with its last DEFER state and its hold), this member is added to its
 * holders, and an entry of an older epoch gets a REEPOCH record (its body is not written
 * again). Heads only are read from disk (sender, recipients, arrival, size), not bodies.
 */
final class SpoolReplay {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    private static final int BATCH = 1000;

    private final BodyStore bodies;
    private final QueueMaps maps;
    private final String epoch;
    private final NextHopNamer hops;

    SpoolReplay(BodyStore bodies, QueueMaps maps, String epoch, NextHopNamer hops) {
        this.bodies = bodies;
        this.maps = maps;
        this.epoch = epoch;
        this.hops = hops;
    }

    private static final class Counts {
        int dropped;
        int requeued;
        int kept;
        int held;
    }

    void replay() {
        long start = System.nanoTime();
        Counts counts = new Counts();
        replay(bodies.accepted(), counts);
        replay(bodies.copies(), counts);
        bodies.accepted().flush().join();
        bodies.copies().flush().join();
        long millis = (System.nanoTime() - start) / 1_000_000;
        if (counts.dropped + counts.requeued + counts.kept > 0) {
            LOG.info("spool replay: {} entries re-enqueued under epoch {} ({} on hold), {} still queued, {} dropped "
                    + "(delivered elsewhere), in {} ms", counts.requeued, epoch, counts.held, counts.kept,
                    counts.dropped, millis);
        }
    }

    private void replay(SpoolJournal journal, Counts counts) {
        List<SpoolJournal.OwedEntry> owed = journal.owed();
        UUID self = bodies.self();
        List<CompletionStage<?>> pending = new ArrayList<>();
        try (SpoolRecords.HeadReader heads = journal.heads()) {
            for (int i = 0; i < owed.size(); i += BATCH) {
                Map<String, SpoolJournal.OwedEntry> batch = new LinkedHashMap<>();
                for (SpoolJournal.OwedEntry e : owed.subList(i, Math.min(owed.size(), i + BATCH))) {
                    batch.put(e.id().value(), e);
                }
                Map<String, byte[]> stored = maps.meta().getAll(batch.keySet());
                // absent and tombstoned: another holder's replay put it back and it was finished since
                Set<String> absent = new HashSet<>(batch.keySet());
                absent.removeAll(stored.keySet());
                Set<String> finished = absent.isEmpty() ? Set.of() : maps.done().getAll(absent).keySet();
                Set<String> addHolder = new HashSet<>();
                for (SpoolJournal.OwedEntry entry : batch.values()) {
                    String id = entry.id().value();
                    byte[] present = stored.get(id);
                    boolean sameEpoch = epoch.equals(entry.epoch());
                    if ((sameEpoch || finished.contains(id)) && present == null) {
                        journal.done(entry.id()); // gone from the running cluster's index: delivered or bounced elsewhere
                        counts.dropped++;
                        continue;
                    }
                    if (present != null) {
                        if (!BinaryCodec.decodeMeta(present).holders().contains(self)) {
                            addHolder.add(id);
                        }
                        counts.kept++;
                    } else {
                        QueueMeta state = stateOf(heads, entry, self);
                        if (state == null) {
                            continue;
                        }
                        if (state.pending().isEmpty()) {
                            journal.done(entry.id());
                            counts.dropped++;
                            continue;
                        }
                        pending.add(maps.meta().submitToKey(id, new QueueOps.PutOrAddHolder(BinaryCodec.encodeMeta(state),
                                self)));
                        counts.requeued++;
                        if (state.held()) {
                            counts.held++;
                        }
                    }
                    if (!sameEpoch) {
                        journal.reepoch(entry.id(), epoch);
                    }
                }
                if (!addHolder.isEmpty()) {
                    maps.meta().executeOnKeys(addHolder, new QueueOps.AddHolder(self));
                }
                // at most a few batches of puts in flight
                if (pending.size() >= 4 * BATCH) {
                    CompletableFuture.allOf(pending.stream().map(CompletionStage::toCompletableFuture)
                            .toArray(CompletableFuture[]::new)).join();
                    pending.clear();
                }
            }
        }
        CompletableFuture.allOf(pending.stream().map(CompletionStage::toCompletableFuture)
                .toArray(CompletableFuture[]::new)).join();
        journal.forgetOwed();
    }

    /** The index entry of a message the index no longer has: its last DEFER state, its hold, this member its holder. */
    private QueueMeta stateOf(SpoolRecords.HeadReader heads, SpoolJournal.OwedEntry entry, UUID self) {
        SpoolJournal.Head head;
        try {
            head = heads.read(entry);
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: cannot read spool entry back from {}: {}", entry.id(), entry.segment(), e.toString());
            return null;
        }
        SpoolJournal.Deferral d = entry.lastDeferral();
        List<String> pendingRcpts = d == null ? head.recipients() : d.pending();
        QueueMeta state = new QueueMeta(pendingRcpts, d == null ? 0 : d.attempts(),
                d == null ? System.currentTimeMillis() : d.nextAttemptMillis(), head.arrivalMillis(), "", head.size(),
                false, hops.nextHops(head.sender(), pendingRcpts), head.sender(), List.of(self));
        // an operator's hold outlives the whole cluster's restart (postsuper -h keeps it on disk too)
        return state.withHeld(entry.held()).asRestored();
    }
}
