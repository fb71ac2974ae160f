package io.relay.queue;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.ExecutionCallback;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.IExecutorService;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The copies of a newly accepted body to other members' disks, for {@link BodyStore#replicate}:
 * a small body goes in a {@link CopyBatches} batch; a large one part by part
 * ({@link BodyTasks.CopyPart}, from a thread of its own, one part in flight) and then the
 * record that settles them ({@link BodyTasks.Copy}). A target that fails or does not answer
 * in time is replaced by the next live member not asked yet.
 */
final class BodyCopies {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterQueue.class);

    private final BodyStore store;
    private final HazelcastInstance hazelcast;
    private final CopyBatches batches;
    private final String epoch;
    /** Sends the parts of large bodies (blocking, one part in flight per copy); idle threads die. */
    private final ExecutorService parts = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "body-parts");
        t.setDaemon(true);
        return t;
    });

    BodyCopies(BodyStore store, HazelcastInstance hazelcast, CopyBatches batches, String epoch) {
        this.store = store;
        this.hazelcast = hazelcast;
        this.batches = batches;
        this.epoch = epoch;
    }

    /** Copies {@code stored} to {@code targets} (not empty); see {@link BodyStore#replicate}. */
    CompletableFuture<List<UUID>> replicate(String id, BodyStore.Stored stored, List<UUID> targets) {
        Copying copying = new Copying(id, stored, targets);
        targets.forEach(copying::copyTo);
        return copying.all;
    }

    /** One message's copies under way: who was asked, who has it, how many are still out. */
    private final class Copying {
        final String id;
        final BodyStore.Stored stored;
        final Set<UUID> asked = new LinkedHashSet<>();
        final List<UUID> copied = new ArrayList<>();
        final AtomicInteger left;
        final CompletableFuture<List<UUID>> all = new CompletableFuture<>();

        Copying(String id, BodyStore.Stored stored, List<UUID> targets) {
            this.id = id;
            this.stored = stored;
            this.left = new AtomicInteger(targets.size());
            asked.add(store.self());
            asked.addAll(targets);
        }

        void copyTo(UUID target) {
            CompletableFuture<Boolean> answer = new CompletableFuture<>();
            Member m = store.member(target);
            if (m == null) {
                answer.completeExceptionally(new IllegalStateException("member " + target + " left the cluster"));
            } else if (stored.file() == null) {
                batches.copy(m, id, stored.encoded(), answer);
            } else {
                // the parts first, one at a time from a thread of our own, then the record that settles them
                try {
                    parts.execute(() -> {
                        try {
                            if (sendParts(m, answer)) {
                                submitCopy(m, answer);
                            }
                        } catch (Exception e) {
                            answer.completeExceptionally(e);
                        }
                    });
                } catch (RuntimeException e) {
                    answer.completeExceptionally(e);
                }
            }
            long timeout = BodyStore.COPY_TIMEOUT_MILLIS
                    * (1 + (stored.file() == null ? 0 : parts(stored.fileLength())));
            answer.orTimeout(timeout, TimeUnit.MILLISECONDS).whenComplete((ok, failure) -> {
                // Whatever happens here, this copy's slot is settled: an exception thrown in this
                // callback (the member shutting down under it) would otherwise be swallowed and
                // leave the accept, and the SMTP session waiting on it, hanging for good.
                boolean replaced = false;
                try {
                    if (failure == null) {
                        synchronized (this) {
                            copied.add(target);
                        }
                    } else {
                        LOG.debug("{}: copy to member {} failed: {}", id, target, failure.toString());
                        UUID next = substitute();
                        if (next != null) {
                            copyTo(next);
                            replaced = true;
                        }
                    }
                } catch (RuntimeException e) {
                    LOG.debug("{}: copy to member {} not settled: {}", id, target, e.toString());
                } finally {
                    if (!replaced && left.decrementAndGet() == 0) {
                        synchronized (this) {
                            all.complete(List.copyOf(copied));
                        }
                    }
                }
            });
        }

        private void submitCopy(Member m, CompletableFuture<Boolean> answer) {
            try {
                hazelcast.getExecutorService(BodyStore.EXECUTOR).submitToMember(
                        new BodyTasks.Copy(id, epoch, stored.encoded()), m,
                        new ExecutionCallback<Boolean>() {
                            @Override
                            public void onResponse(Boolean response) {
                                answer.complete(response);
                            }

                            @Override
                            public void onFailure(Throwable t) {
                                answer.completeExceptionally(t);
                            }
                        });
            } catch (RuntimeException e) {
                answer.completeExceptionally(e);
            }
        }

        /**
         * Sends the parts one at a time; false once the copy was given up (timed out and
         * replaced): the rest is not sent and no record settles it, so the target does not
         * keep a copy the index never lists (its partial file goes at its next start).
         */
        private boolean sendParts(Member m, CompletableFuture<Boolean> answer) throws Exception {
            IExecutorService executor = hazelcast.getExecutorService(BodyStore.EXECUTOR);
            long length = stored.fileLength();
            try (FileChannel ch = FileChannel.open(stored.file(), StandardOpenOption.READ)) {
                for (long offset = 0; offset < length; offset += BodyStore.PART_BYTES) {
                    if (answer.isDone()) {
                        return false;
                    }
                    ByteBuffer b = ByteBuffer.allocate((int) Math.min(BodyStore.PART_BYTES, length - offset));
                    while (b.hasRemaining() && ch.read(b, offset + b.position()) >= 0) {
                        // until full: a settled body does not shrink
                    }
                    executor.submitToMember(new BodyTasks.CopyPart(id, offset, b.array()), m)
                            .get(BodyStore.COPY_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
                }
            }
            return !answer.isDone();
        }

        /** A live member not asked yet, in member order; null when there is none. */
        private synchronized UUID substitute() {
            for (Member m : hazelcast.getCluster().getMembers()) {
                if (asked.add(m.getUuid())) {
                    return m.getUuid();
                }
            }
            return null;
        }
    }

    private static long parts(long length) {
        return (length + BodyStore.PART_BYTES - 1) / BodyStore.PART_BYTES;
    }
}
