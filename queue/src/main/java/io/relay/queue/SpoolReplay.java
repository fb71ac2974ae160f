package io.relay.queue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The spool's replay at start (the epoch rule): an owed entry whose epoch is the running
 * cluster's and whose id is gone from the store was delivered or bounced elsewhere (DONE,
 * dropped); otherwise (the whole cluster restarted, or it is still stored) it is put back
 * if absent, with its last DEFER state and its hold, and re-written under the current
 * epoch so older segments can be freed, followed by its state as the store has it.
 */
final class SpoolReplay {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);

    private final SpoolJournal journal;
    private final QueueMaps maps;
    private final String epoch;
    private final NextHopNamer hops;

    SpoolReplay(SpoolJournal journal, QueueMaps maps, String epoch, NextHopNamer hops) {
        this.journal = journal;
        this.maps = maps;
        this.epoch = epoch;
        this.hops = hops;
    }

    void replay() {
        int dropped = 0;
        int requeued = 0;
        int held = 0;
        List<CompletableFuture<Void>> rewrites = new ArrayList<>();
        for (SpoolJournal.OwedEntry entry : journal.owed()) {
            String id = entry.id().value();
            byte[] stored = maps.meta().get(id);
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
                state = d == null ? QueueMeta.fresh(message, hops.nextHops(sender, message.envelope().recipients()))
                        : new QueueMeta(d.pending(), d.attempts(), d.nextAttemptMillis(),
                        message.envelope().arrivalMillis(), "", message.size(), false, hops.nextHops(sender, d.pending()));
                // an operator's hold outlives the whole cluster's restart (postsuper -h keeps it on disk too)
                state = state.withHeld(entry.held());
                if (state.pending().isEmpty()) {
                    journal.done(entry.id());
                    dropped++;
                    continue;
                }
                maps.messages().set(id, encoded);
                maps.meta().putIfAbsent(id, BinaryCodec.encodeMeta(state));
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
}
