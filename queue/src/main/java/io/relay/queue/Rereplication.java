package io.relay.queue;

import com.hazelcast.cluster.Member;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps each message this member owns on {@code queue.backup-count + 1} live members' disks
 * (fewer while the cluster is smaller). After a member leaves (or joins), the owner of each
 * entry whose live holders are too few gets its body (from its own disk or a holder),
 * copies it to members that lack it (itself first, then the others in member order), and
 * writes the new holders into the index entry only if nobody changed them meanwhile
 * ({@link QueueOps.SetHolders}). Runs when {@link #request}ed, from the queue's housekeeping;
 * what it could not finish (a body no holder answered for, a write that raced) makes it run
 * again. Owns the request flag.
 */
final class Rereplication {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);
    private static final int BATCH = 1000;
    private static final int IN_FLIGHT = 64;

    private final BodyStore bodies;
    private final QueueMaps maps;
    private final ClusterMember member;
    private final int backupCount;
    private final String epoch;
    private final BooleanSupplier closing;
    private final AtomicBoolean requested = new AtomicBoolean(true);

    Rereplication(BodyStore bodies, QueueMaps maps, ClusterMember member, int backupCount, String epoch,
                  BooleanSupplier closing) {
        this.bodies = bodies;
        this.maps = maps;
        this.member = member;
        this.backupCount = backupCount;
        this.epoch = epoch;
        this.closing = closing;
    }

    /** The members changed: look at every owned entry again on the next run. */
    void request() {
        requested.set(true);
    }

    /** One pass over the owned entries, if requested since the last complete one. */
    void runIfRequested() {
        if (closing.getAsBoolean() || !member.running() || !requested.getAndSet(false)) {
            return;
        }
        List<Member> members = new ArrayList<>(member.hazelcast().getCluster().getMembers());
        Set<UUID> live = new HashSet<>();
        members.forEach(m -> live.add(m.getUuid()));
        int want = Math.min(backupCount + 1, members.size());
        UUID self = bodies.self();
        long start = System.nanoTime();
        AtomicInteger copied = new AtomicInteger();
        AtomicInteger unreachable = new AtomicInteger();
        // up to IN_FLIGHT messages copied at once: a backlog of 100,000 is re-replicated in
        // seconds, not in 100,000 sequential round trips
        Semaphore inFlight = new Semaphore(IN_FLIGHT);
        List<String> keys = new ArrayList<>(maps.meta().localKeySet());
        for (int i = 0; i < keys.size() && !closing.getAsBoolean(); i += BATCH) {
            Map<String, byte[]> values = maps.meta().getAll(new HashSet<>(keys.subList(i, Math.min(keys.size(), i + BATCH))));
            for (Map.Entry<String, byte[]> e : values.entrySet()) {
                QueueMeta m = BinaryCodec.decodeMeta(e.getValue());
                List<UUID> liveHolders = new ArrayList<>();
                for (UUID h : m.holders()) {
                    if (live.contains(h) && !liveHolders.contains(h)) {
                        liveHolders.add(h);
                    }
                }
                if (liveHolders.size() >= want) {
                    continue;
                }
                inFlight.acquireUninterruptibly();
                CompletableFuture<Outcome> copying;
                try {
                    copying = copy(e.getKey(), m, liveHolders, members, want, self);
                } catch (RuntimeException failure) {
                    copying = CompletableFuture.failedFuture(failure);
                }
                copying.whenComplete((outcome, failure) -> {
                    inFlight.release();
                    if (failure != null || outcome == Outcome.UNREACHABLE) {
                        unreachable.incrementAndGet();
                    } else if (outcome == Outcome.COPIED) {
                        copied.incrementAndGet();
                    }
                });
            }
        }
        inFlight.acquireUninterruptibly(IN_FLIGHT); // all done
        inFlight.release(IN_FLIGHT);
        if (copied.get() + unreachable.get() > 0) {
            LOG.info("re-replication: {} messages copied to keep {} copies each, {} without a reachable body, in {} ms",
                    copied.get(), want, unreachable.get(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        }
        if (unreachable.get() > 0) {
            requested.set(true);
        }
    }

    private enum Outcome { COPIED, UNREACHABLE, RACED }

    /** Copies one message to enough members and writes its new holders; the body is read (or fetched) here. */
    private CompletableFuture<Outcome> copy(String id, QueueMeta m, List<UUID> liveHolders, List<Member> members,
                                            int want, UUID self) {
        Optional<BodyStore.Stored> body = bodies.findStored(id, m.holders());
        if (body.isEmpty()) {
            return CompletableFuture.completedFuture(Outcome.UNREACHABLE);
        }
        List<UUID> holders = new ArrayList<>(liveHolders);
        List<UUID> remote = new ArrayList<>();
        if (!holders.contains(self)) {
            if (!bodies.holdsLocally(id)) { // a large body fetched from a holder is already a copy here
                bodies.keepCopy(id, epoch, body.get().encoded());
            }
            holders.add(self);
        }
        for (Member candidate : members) {
            if (holders.size() >= want) {
                break;
            }
            if (!holders.contains(candidate.getUuid())) {
                holders.add(candidate.getUuid());
                remote.add(candidate.getUuid());
            }
        }
        return bodies.replicate(id, body.get(), remote).thenCompose(copiedTo -> {
            List<UUID> actual = new ArrayList<>(holders);
            actual.removeIf(h -> remote.contains(h) && !copiedTo.contains(h));
            actual.addAll(copiedTo.stream().filter(h -> !actual.contains(h)).toList());
            return maps.meta().submitToKey(id, new QueueOps.SetHolders(m.holders(), actual)).toCompletableFuture()
                    .thenApply(changed -> {
                        if (!Boolean.TRUE.equals(changed)) {
                            requested.set(true); // finished or changed meanwhile: looked at again next time
                            return Outcome.RACED;
                        }
                        return actual.size() >= want ? Outcome.COPIED : Outcome.UNREACHABLE;
                    });
        });
    }
}
