package io.relay.queue;

import java.util.function.IntSupplier;

/**
 * The queue's one heap-bound mark ({@code queue.max-index-memory}): bodies live on disk, but
 * every queued message still costs heap for its index entry and this member's bookkeeping
 * of it. Estimated, not measured per message: {@value #OWNED_BYTES} bytes for an entry this
 * member owns (the entry in Hazelcast with its key, the tracked state, the due time, the
 * journal's position; measured with 200,000 queued 4 KB messages, one recipient each) and
 * {@value #BACKUP_BYTES} bytes for each backup of an entry it keeps for another member
 * (with N members and {@code backup-count} b, as many as min(b, N - 1) per owned entry on
 * average). Above the mark new mail gets 452, before the heap runs out.
 */
final class IndexMemory {
    static final long OWNED_BYTES = 650;
    static final long BACKUP_BYTES = 350;

    private final long limit;
    private final int backupCount;
    private final IntSupplier members;

    IndexMemory(long limit, int backupCount, IntSupplier members) {
        this.limit = limit;
        this.backupCount = backupCount;
        this.members = members;
    }

    /** The heap the index of {@code messages} owned messages is estimated to take here. */
    long estimate(long messages) {
        int backupsHeld = Math.max(0, Math.min(backupCount, members.getAsInt() - 1));
        return messages * (OWNED_BYTES + BACKUP_BYTES * backupsHeld);
    }

    boolean above(long messages) {
        return estimate(messages) > limit;
    }

    long limit() {
        return limit;
    }
}
