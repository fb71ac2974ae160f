package io.relay.queue;

import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this node's spool and the cluster store agreeing after the fact, every 10 s: spool
 * entries accepted here at least 30 s ago that the store no longer has are DONE (finished
 * elsewhere). For an hour after a partition loss, a split-brain merge or a state seen
 * without its body ({@link #suspect}), it drops only those with a tombstone and puts the
 * others back from the spool (and message bodies the store lost), so a split costs
 * duplicates, never mail. Owns the time of the last such suspicion.
 */
final class Reconciler {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    private static final long RECONCILE_AGE_MILLIS = 30_000;
    private static final int BATCH = 1000;
    /** After a partition loss or a split-brain merge, spools check their entries against the store this long. */
    private static final long SUSPECT_MILLIS = 3_600_000;
    private static final int SUSPECT_CHECKS_PER_RUN = 5000;

    private final SpoolJournal journal;
    private final QueueMaps maps;
    private final ClusterMember member;
    private final Admission admission;
    private final NextHopNamer hops;
    private volatile long suspectSince;

    Reconciler(SpoolJournal journal, QueueMaps maps, ClusterMember member, Admission admission, NextHopNamer hops) {
        this.journal = journal;
        this.maps = maps;
        this.member = member;
        this.admission = admission;
        this.hops = hops;
    }

    /** The store may have lost entries (partition loss, merge, a state without its body): check closely for an hour. */
    void suspect(long nowMillis) {
        suspectSince = nowMillis;
    }

    /**
     * Spool entries accepted here, at least 30 s old: DONE when a tombstone says another
     * member finished them; put back into the store when it no longer has them and no
     * tombstone says why (a partition lost on this side of a split, a merge that did not
     * carry them). After a partition loss or a merge, also checks that the message body is
     * still there, for a bounded number of entries per run.
     */
    void reconcile() {
        long cutoff = System.currentTimeMillis() - RECONCILE_AGE_MILLIS;
        List<QueueId> candidates = journal.owedAcceptedBefore(cutoff);
        boolean safe = member.clusterSafe();
        boolean suspect = System.currentTimeMillis() - suspectSince < SUSPECT_MILLIS;
        int bodyChecks = 0;
        int restored = 0;
        for (int i = 0; i < candidates.size(); i += BATCH) {
            Set<String> keys = new HashSet<>();
            for (QueueId id : candidates.subList(i, Math.min(candidates.size(), i + BATCH))) {
                if (!admission.accepting(id.value())) {
                    keys.add(id.value());
                }
            }
            Set<String> present = maps.meta().getAll(keys).keySet();
            Set<String> absent = new HashSet<>(keys);
            absent.removeAll(present);
            Set<String> finished = absent.isEmpty() ? Set.of() : maps.done().getAll(absent).keySet();
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
                    if (!maps.messages().containsKey(key) && restore(new QueueId(key), false)) {
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
        Optional<QueuedMessage> m = journal.readOwed(id);
        if (m.isEmpty()) {
            return false;
        }
        maps.messages().set(id.value(), BinaryCodec.encodeMessage(m.get()));
        if (withState) {
            Envelope e = m.get().envelope();
            maps.meta().putIfAbsent(id.value(), BinaryCodec.encodeMeta(QueueMeta.fresh(m.get(),
                    hops.nextHops(e.sender(), e.recipients())).withHeld(journal.isHeld(id))));
        }
        return true;
    }
}
