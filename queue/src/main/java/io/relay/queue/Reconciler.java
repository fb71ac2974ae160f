package io.relay.queue;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this node's disk and the cluster's index agreeing after the fact, every 10 s, for
 * both journals of the {@link BodyStore} (messages accepted here, copies kept for others):
 * entries written at least 30 s ago that the index no longer has are DONE (finished
 * elsewhere, their release notice lost). For an hour after a partition loss, a split-brain
 * merge or an index entry whose body no holder answered for ({@link #suspect}), it drops only
 * those with a tombstone and puts the others back, so a split costs duplicates, never mail;
 * and it adds this member to the holders of entries it holds but that do not list it.
 * Entries this member owns and schedules are skipped (they are in the index by
 * definition), and at most {@value #CHECKS_PER_RUN} others per journal are looked at per run,
 * round the journal in turn, so a backlog of a million costs a bounded read every 10 s.
 * Owns the time of the last suspicion and the two cursors.
 */
final class Reconciler {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    private static final long RECONCILE_AGE_MILLIS = 30_000;
    private static final int BATCH = 1000;
    private static final int CHECKS_PER_RUN = 20_000;
    /** After a partition loss or a split-brain merge, spools check their entries against the store this long. */
    private static final long SUSPECT_MILLIS = 3_600_000;

    private final BodyStore bodies;
    private final QueueMaps maps;
    private final ClusterMember member;
    private final Admission admission;
    private final OwnedEntries owned;
    private final NextHopNamer hops;
    private final int[] cursors = new int[2];
    private volatile long suspectSince;

    Reconciler(BodyStore bodies, QueueMaps maps, ClusterMember member, Admission admission, OwnedEntries owned,
               NextHopNamer hops) {
        this.bodies = bodies;
        this.maps = maps;
        this.member = member;
        this.admission = admission;
        this.owned = owned;
        this.hops = hops;
    }

    /** The store may have lost entries (partition loss, merge, a body no holder had): check closely for an hour. */
    void suspect(long nowMillis) {
        suspectSince = nowMillis;
    }

    /** One pass over both journals (see the class comment). */
    synchronized void reconcile() {
        boolean suspect = System.currentTimeMillis() - suspectSince < SUSPECT_MILLIS;
        int restored = reconcile(bodies.accepted(), 0, suspect) + reconcile(bodies.copies(), 1, suspect);
        bodies.sweepFiles(); // the files of the records found finished above
        if (restored > 0) {
            LOG.warn("put {} messages back from this node's disk that the cluster's index no longer had "
                    + "(after a partition loss or a split); some may be delivered twice", restored);
        }
    }

    private int reconcile(SpoolJournal journal, int cursor, boolean suspect) {
        long cutoff = System.currentTimeMillis() - RECONCILE_AGE_MILLIS;
        List<QueueId> candidates = journal.owedAcceptedBefore(cutoff);
        candidates.removeIf(id -> owned.tracks(id.value()) || admission.accepting(id.value()));
        if (candidates.isEmpty()) {
            return 0;
        }
        int from = cursors[cursor] < candidates.size() ? cursors[cursor] : 0;
        int to = Math.min(candidates.size(), from + CHECKS_PER_RUN);
        cursors[cursor] = to;
        boolean safe = member.clusterSafe();
        UUID self = bodies.self();
        int restored = 0;
        for (int i = from; i < to; i += BATCH) {
            Set<String> keys = new HashSet<>();
            for (QueueId id : candidates.subList(i, Math.min(to, i + BATCH))) {
                keys.add(id.value());
            }
            Map<String, byte[]> present = maps.meta().getAll(keys);
            Set<String> absent = new HashSet<>(keys);
            absent.removeAll(present.keySet());
            Set<String> finished = absent.isEmpty() ? Set.of() : maps.done().getAll(absent).keySet();
            for (String key : absent) {
                if (!finished.contains(key) && suspect) {
                    // No tombstone after a partition loss or a merge: the index may have lost it.
                    if (safe && restore(journal, new QueueId(key))) {
                        restored++;
                    }
                } else {
                    journal.done(new QueueId(key));
                }
            }
            if (suspect && safe) {
                present.forEach((key, value) -> {
                    if (!BinaryCodec.decodeMeta(value).holders().contains(self)) {
                        maps.meta().executeOnKey(key, new QueueOps.AddHolder(self));
                    }
                });
            }
        }
        return restored;
    }

    /** Puts an index entry back for a message this node's disk holds, listing this member as its holder. */
    private boolean restore(SpoolJournal journal, QueueId id) {
        Optional<QueuedMessage> m = journal.readOwed(id);
        if (m.isEmpty()) {
            return false;
        }
        Envelope e = m.get().envelope();
        maps.meta().putIfAbsent(id.value(), BinaryCodec.encodeMeta(QueueMeta.fresh(m.get(),
                hops.nextHops(e.sender(), e.recipients()), List.of(bodies.self())).withHeld(journal.isHeld(id)).asRestored()));
        return true;
    }
}
