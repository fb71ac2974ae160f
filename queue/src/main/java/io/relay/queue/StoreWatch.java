package io.relay.queue;

import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import com.hazelcast.partition.MigrationListener;
import com.hazelcast.partition.MigrationState;
import com.hazelcast.partition.ReplicaMigrationEvent;
import com.hazelcast.query.Predicate;
import com.hazelcast.query.Predicates;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the store and the cluster tell this member, turned into scheduling: entries another
 * member put into a partition of ours (ADDED), an operator's change to an owned entry
 * (UPDATED: a release or an earlier next attempt reschedules at once) or its removal
 * (REMOVED: untracked), and the events after which owned entries are rescanned
 * (migrations, member changes, partition loss, split-brain merge; the last two also make
 * the {@link Reconciler} suspicious). The store's listeners are local ones whose
 * predicates, evaluated on the partition thread, filter out this node's own accepts and
 * removals, so those are never dispatched. Holds no state of its own.
 */
final class StoreWatch {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);

    private final HazelcastInstance hazelcast;
    private final IMap<String, byte[]> meta;
    private final OwnedEntries owned;
    private final FreshCache fresh;
    private final Admission admission;
    private final DeliveryWorkers workers;
    private final Reconciler reconciler;
    private final Runnable membersChanged;

    StoreWatch(HazelcastInstance hazelcast, IMap<String, byte[]> meta, OwnedEntries owned, FreshCache fresh,
               Admission admission, DeliveryWorkers workers, Reconciler reconciler, Runnable membersChanged) {
        this.membersChanged = membersChanged;
        this.hazelcast = hazelcast;
        this.meta = meta;
        this.owned = owned;
        this.fresh = fresh;
        this.admission = admission;
        this.workers = workers;
        this.reconciler = reconciler;
    }

    void register() {
        // Entries another member put into a partition of ours (a spool restore or replay, an
        // accept while partition ownership was moving). This node's own accepts schedule
        // themselves when stored, so their events are filtered out on the partition thread and
        // never dispatched: the filter is a local listener's, evaluated here with our sets.
        meta.addLocalEntryListener((EntryAddedListener<String, byte[]>) this::entryAdded,
                (Predicate<String, byte[]>) e -> !admission.accepting(e.getKey()), true);
        // Two registrations (Hazelcast takes the event kinds from the listener's interfaces).
        meta.addLocalEntryListener((EntryUpdatedListener<String, byte[]>) this::entryUpdated,
                Predicates.alwaysTrue(), true);
        // Removals of entries this node still tracks (an operator's delete); its own removal
        // after delivery untracks first, so that event is filtered out and never dispatched.
        meta.addLocalEntryListener((EntryRemovedListener<String, byte[]>) this::entryRemoved,
                (Predicate<String, byte[]>) e -> owned.tracks(e.getKey()) || fresh.contains(e.getKey()), false);
        hazelcast.getPartitionService().addMigrationListener(new MigrationListener() {
            @Override
            public void migrationStarted(MigrationState state) {
            }

            @Override
            public void migrationFinished(MigrationState state) {
                owned.requestRescan("migration finished");
            }

            @Override
            public void replicaMigrationCompleted(ReplicaMigrationEvent event) {
                owned.requestRescan("replica migrated");
            }

            @Override
            public void replicaMigrationFailed(ReplicaMigrationEvent event) {
                owned.requestRescan("replica migration failed");
            }
        });
        // The map-level listener fires only when more replicas went than the map keeps backups.
        meta.addPartitionLostListener(event -> {
            LOG.warn("queue data of partition {} lost on this side; the spools that hold its messages "
                    + "put them back", event.getPartitionId());
            reconciler.suspect(System.currentTimeMillis());
            owned.requestRescan("partition lost");
        });
        hazelcast.getLifecycleService().addLifecycleListener(event -> {
            if (event.getState() == LifecycleEvent.LifecycleState.MERGED) {
                reconciler.suspect(System.currentTimeMillis());
                owned.requestRescan("split-brain merge");
            }
        });
        hazelcast.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                LOG.info("cluster member {} joined; {} members", event.getMember().getAddress(), event.getMembers().size());
                owned.requestRescan("member added");
                membersChanged.run();
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                LOG.warn("cluster member {} left; {} members", event.getMember().getAddress(), event.getMembers().size());
                owned.requestRescan("member removed");
                membersChanged.run();
            }
        });
    }

    private void entryAdded(EntryEvent<String, byte[]> event) {
        byte[] value = event.getValue();
        QueueMeta m = value == null ? null : BinaryCodec.decodeMeta(value);
        if (m == null) {
            long now = System.currentTimeMillis();
            owned.schedule(event.getKey(), now, 0, QueueState.ACTIVE, now);
        } else {
            owned.schedule(event.getKey(), m);
        }
    }

    /** The owner's side of an operator change: reschedule a release or an earlier attempt. */
    private void entryUpdated(EntryEvent<String, byte[]> event) {
        fresh.take(event.getKey()); // the state changed: an attempt reads it from the store now
        if (event.getValue() == null) {
            return;
        }
        QueueMeta now = BinaryCodec.decodeMeta(event.getValue());
        owned.state(event.getKey(), now.queueState());
        QueueMeta before = event.getOldValue() == null ? null : BinaryCodec.decodeMeta(event.getOldValue());
        if (now.held() || (before != null && !before.held()
                && now.nextAttemptMillis() >= before.nextAttemptMillis())) {
            return;
        }
        String id = event.getKey();
        if (owned.tracks(id)) {
            owned.reschedule(id, now.nextAttemptMillis());
        } else {
            owned.schedule(id, now);
        }
    }

    /** An operator's delete: untracked, unless a worker holds the entry (its write-back sees the removal). */
    private void entryRemoved(EntryEvent<String, byte[]> event) {
        fresh.take(event.getKey());
        if (!workers.delivering(event.getKey())) {
            owned.untrack(event.getKey());
        }
    }
}
