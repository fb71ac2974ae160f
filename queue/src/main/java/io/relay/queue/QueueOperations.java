package io.relay.queue;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntConsumer;

/**
 * The queue as the operator sees it ({@code relayctl queue}, the admin API): cluster-wide
 * views and selections, and the changes Postfix makes with {@code postsuper} and
 * {@code postqueue -f}. Every method makes blocking cluster calls: not for an event loop.
 */
public interface QueueOperations {

    /** Every message's delivery state in the cluster, oldest first. */
    default List<QueueView.Entry> clusterEntries() {
        return clusterEntries(null, null);
    }

    /**
     * The delivery states in {@code state} (a {@link QueueState#queueName()}: hold, deferred,
     * active; null: any) with a pending recipient routed to {@code nextHop} (null: any),
     * oldest first. The filter runs on the members that own the entries; only the matches travel.
     */
    List<QueueView.Entry> clusterEntries(String state, String nextHop);

    /** The ids of {@link #clusterEntries(String, String)}, selected on the owners; only the ids travel. */
    List<String> select(String state, String nextHop);

    /** The sender of every message in the cluster store (id to sender, "" for the null sender). */
    Map<String, String> clusterSenders();

    /** One message and its state, wherever it is owned; empty when not queued. */
    Optional<Map.Entry<QueueMeta, QueuedMessage>> find(String id);

    /**
     * Puts these messages on hold ({@code postsuper -h}); answers the ids that were not held
     * before. The hold is also written (fsync'd) to the spool of the node that accepted each
     * message, so it outlives a restart of the whole cluster. {@code progress} hears the
     * count done after each batch.
     */
    List<String> hold(Collection<String> ids, IntConsumer progress);

    /** Releases held messages ({@code postsuper -H}); they are due at their old next attempt time. */
    List<String> release(Collection<String> ids, IntConsumer progress);

    /** Makes these (not held) messages due now ({@code postqueue -f}); the owner attempts them at once. */
    List<String> retry(Collection<String> ids, IntConsumer progress);

    /**
     * Removes these messages ({@code postsuper -d}): a tombstone first (so a spool that holds
     * a message and reconciles meanwhile drops it), then the state atomically, then the body,
     * then a DONE fsync'd in the spool that accepted it, so it stays deleted after a restart
     * of the whole cluster.
     */
    List<String> delete(Collection<String> ids, IntConsumer progress);
}
