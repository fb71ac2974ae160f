package io.relay.queue;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import java.io.Serializable;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Limits per lane (transport + next hop) counted once for the whole cluster: send rates,
 * recipient quotas and connection leases, kept in the partitioned map {@code relay-limits}
 * (one small entry per lane, with the queue maps' synchronous backups).
 *
 * <p>Strategy: every decision is one entry processor on the lane's partition owner, so it
 * is atomic without a lock and costs one cluster round trip. Rates are GCRA state (a
 * theoretical arrival time per rate) on the owner's wall clock, and slots are wall-clock
 * instants: a caller waits for the instant itself, so a slow answer does not move its send
 * later and crowd the next member's slot (members' clocks are NTP-synchronised; their
 * offset is what remains of the rate error). At high send
 * rates a caller reserves a batch of consecutive slots in one call. Leases count the
 * connections each member holds; a grant goes to members that were refused recently
 * before a member that was not waiting, so a busy member cannot keep the lane forever.
 * When a member leaves or dies, every member drops its leases and waits (idempotent), so
 * they are free again as soon as the cluster notices the loss. Backups apply the same
 * processor at the owner's instant.
 */
public final class ClusterLimits {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterLimits.class);
    public static final String LIMITS_MAP = "relay-limits";
    /** How long a refused member counts as waiting for a lease (it asks again more often than this). */
    static final long WAITER_NANOS = 2_000_000_000L;

    private final IMap<String, LaneState> lanes;
    private final String self;
    private final AtomicLong roundTrips = new AtomicLong();
    private final AtomicLong reserves = new AtomicLong();
    private final AtomicLong leaseAsks = new AtomicLong();
    private final AtomicLong leasesRefused = new AtomicLong();

    /** A rate as the limits store it: {@code permits} per {@code periodNanos}; an hour or more is a recipient quota. */
    public record Rate(long permits, long periodNanos, String text) implements Serializable {
        public Rate {
            if (permits < 1 || periodNanos < 1) {
                throw new IllegalArgumentException("rate " + text + " must allow at least 1 per positive period");
            }
            Objects.requireNonNull(text, "text");
        }

        public boolean quota() {
            return Gcra.quota(periodNanos);
        }

        /** Nanoseconds one unit occupies, send slots with the margin of {@link Gcra#spacedInterval}. */
        long interval() {
            return Gcra.spacedInterval(periodNanos, permits);
        }
    }

    /**
     * What {@link #reserve} decided.
     *
     * @param granted        whether slots were reserved
     * @param waitNanos      from the owner's now until the first reserved slot (or, refused,
     *                       until the earliest possible one)
     * @param startWallNanos the first slot on the owner's wall clock (nanoseconds since the epoch)
     * @param slots          how many consecutive slots were reserved (batch), 0 when refused
     * @param spacing        nanoseconds between those slots
     * @param limitedBy      the rate that needed the longest wait, or null
     */
    public record Reservation(boolean granted, long waitNanos, long startWallNanos, int slots, long spacing,
                              String limitedBy) implements Serializable {
    }

    public ClusterLimits(HazelcastInstance hazelcast) {
        this.lanes = hazelcast.getMap(LIMITS_MAP);
        this.self = hazelcast.getCluster().getLocalMember().getUuid().toString();
        hazelcast.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                dropMember(event.getMember());
            }
        });
    }

    /**
     * Reserves the earliest instant, now or later, at which every rate allows one delivery
     * of {@code recipients} recipients (and up to {@code batch - 1} more deliveries right
     * after it, spaced by the tightest send rate); refuses, reserving nothing, when that
     * instant is more than {@code maxWaitNanos} away. One round trip.
     */
    public Reservation reserve(String lane, List<Rate> rates, int recipients, int batch, long maxWaitNanos) {
        return reserve(lane, rates, recipients, batch, maxWaitNanos, 0);
    }

    /**
     * As above, with no slot earlier than {@code leadNanos} from the owner's now: a caller
     * that expects the answer to take that long still gets a slot it can keep on time.
     */
    public Reservation reserve(String lane, List<Rate> rates, int recipients, int batch, long maxWaitNanos,
                               long leadNanos) {
        roundTrips.incrementAndGet();
        reserves.incrementAndGet();
        return lanes.executeOnKey(lane, new Reserve(List.copyOf(rates), recipients, Math.max(1, batch), maxWaitNanos,
                Math.max(0, leadNanos)));
    }

    /** Takes one of the lane's {@code limit} connection leases for this member, if one is free. One round trip. */
    public boolean tryLease(String lane, int limit) {
        roundTrips.incrementAndGet();
        leaseAsks.incrementAndGet();
        boolean granted = lanes.executeOnKey(lane, new Lease(self, limit));
        if (!granted) {
            leasesRefused.incrementAndGet();
        }
        return granted;
    }

    /** Gives back {@code count} leases of this member without waiting for the answer. */
    public void release(String lane, int count) {
        if (count <= 0) {
            return;
        }
        roundTrips.incrementAndGet();
        lanes.submitToKey(lane, new Release(self, count)).exceptionally(e -> {
            LOG.debug("lease release for {} failed (the member-loss cleanup frees it): {}", lane, e.toString());
            return null;
        });
    }

    /** Leases held on the lane by all members together (a blocking read, for tests and status). */
    public int leasesHeld(String lane) {
        LaneState s = lanes.get(lane);
        return s == null ? 0 : s.leases.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** What the round trips were for: reservations, lease requests (of them refused), the rest releases. */
    public String roundTripBreakdown() {
        return reserves.get() + " rate reservations, " + leaseAsks.get() + " lease requests (" + leasesRefused.get()
                + " refused), " + (roundTrips.get() - reserves.get() - leaseAsks.get()) + " releases";
    }

    /** Cluster round trips this member made for limits (reserve, lease, release). */
    public long roundTrips() {
        return roundTrips.get();
    }

    private void dropMember(Member gone) {
        String id = gone.getUuid().toString();
        try {
            lanes.submitToKeys(lanes.keySet(), new DropMember(id));
        } catch (RuntimeException e) {
            LOG.warn("could not free the limits held by departed member {}: {}", gone.getAddress(), e.toString());
        }
    }

    /** The wall clock in nanoseconds since the epoch (microsecond resolution on Linux). */
    public static long wallNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    // ---- state and processors ----

    /** One lane's state: per-rate theoretical arrival times, leases per member, recent waiters. */
    static final class LaneState implements Serializable {
        private static final long serialVersionUID = 1L;
        final Map<String, Long> tat = new HashMap<>();
        final Map<String, Integer> leases = new HashMap<>();
        final Map<String, Long> waiters = new HashMap<>();

        LaneState copy() {
            LaneState c = new LaneState();
            c.tat.putAll(tat);
            c.leases.putAll(leases);
            c.waiters.putAll(waiters);
            return c;
        }

        boolean empty() {
            return leases.isEmpty() && waiters.isEmpty() && tat.isEmpty();
        }
    }

    /**
     * Base of the processors. The owner runs it on its clock and remembers that instant; the
     * backups run the same processor with the same instant, so every replica holds the same
     * state (the backup is sent after the owner ran; if it ever were not, a backup would use
     * its own clock, which is off by microseconds on a synchronised network).
     */
    abstract static class Change<R> implements EntryProcessor<String, LaneState, R>, Serializable {
        private long fixedNow = Long.MIN_VALUE;

        @Override
        public final R process(Map.Entry<String, LaneState> entry) {
            if (fixedNow == Long.MIN_VALUE) {
                fixedNow = wallNanos();
            }
            LaneState state = entry.getValue() == null ? new LaneState() : entry.getValue().copy();
            R answer = apply(state, fixedNow);
            if (state.empty()) {
                if (entry.getValue() != null) {
                    entry.setValue(null);
                }
            } else {
                entry.setValue(state);
            }
            return answer;
        }

        abstract R apply(LaneState state, long now);
    }

    static final class Reserve extends Change<Reservation> {
        private final List<Rate> rates;
        private final int recipients;
        private final int batch;
        private final long maxWaitNanos;
        private final long leadNanos;

        Reserve(List<Rate> rates, int recipients, int batch, long maxWaitNanos, long leadNanos) {
            this.rates = rates;
            this.recipients = recipients;
            this.batch = batch;
            this.maxWaitNanos = maxWaitNanos;
            this.leadNanos = leadNanos;
        }

        @Override
        Reservation apply(LaneState s, long now) {
            long start = now + leadNanos;
            String slowest = null;
            long spacing = 0;
            boolean anyQuota = false;
            for (Rate r : rates) {
                Long t = s.tat.get(r.text());
                long earliest = t == null ? now : Gcra.earliest(t, r.quota(), r.permits(), cost(r), r.interval(), now);
                earliest = Math.max(earliest, now + leadNanos);
                if (earliest > start) {
                    start = earliest;
                    slowest = r.text();
                }
                if (r.quota()) {
                    anyQuota = true;
                } else {
                    spacing = Math.max(spacing, r.interval());
                }
            }
            if (start - now > maxWaitNanos) {
                return new Reservation(false, start - now, start, 0, spacing, slowest);
            }
            // Batches only for send rates alone: a quota charges recipients, unknown for later deliveries.
            int n = anyQuota || spacing == 0 ? 1 : batch;
            for (Rate r : rates) {
                long units = r.quota() ? cost(r) : n;
                s.tat.put(r.text(), Gcra.charged(s.tat.get(r.text()), start, units, r.interval()));
            }
            // Forget rates no longer configured once they are in the past.
            Set<String> current = rates.stream().map(Rate::text).collect(Collectors.toSet());
            s.tat.entrySet().removeIf(e -> !current.contains(e.getKey()) && e.getValue() < now);
            return new Reservation(true, start - now, start, n, spacing, slowest);
        }

        private long cost(Rate r) {
            return Gcra.cost(r.quota(), r.permits(), recipients);
        }
    }

    static final class Lease extends Change<Boolean> {
        private final String member;
        private final int limit;

        Lease(String member, int limit) {
            this.member = member;
            this.limit = limit;
        }

        @Override
        Boolean apply(LaneState s, long now) {
            s.waiters.values().removeIf(since -> now - since > WAITER_NANOS);
            int held = s.leases.values().stream().mapToInt(Integer::intValue).sum();
            long othersWaiting = s.waiters.keySet().stream().filter(m -> !m.equals(member)).count();
            boolean waitingHere = s.waiters.containsKey(member);
            long free = limit - held;
            // Waiting members go first: a member that was not refused gets a lease only when
            // more are free than others are waiting for.
            if (free > 0 && (waitingHere || free > othersWaiting)) {
                s.leases.merge(member, 1, Integer::sum);
                s.waiters.remove(member);
                return true;
            }
            s.waiters.put(member, now);
            return false;
        }
    }

    static final class Release extends Change<Void> {
        private final String member;
        private final int count;

        Release(String member, int count) {
            this.member = member;
            this.count = count;
        }

        @Override
        Void apply(LaneState s, long now) {
            s.leases.computeIfPresent(member, (k, v) -> v - count > 0 ? v - count : null);
            s.waiters.values().removeIf(since -> now - since > WAITER_NANOS);
            return null;
        }
    }

    static final class DropMember extends Change<Void> {
        private final String member;

        DropMember(String member) {
            this.member = member;
        }

        @Override
        Void apply(LaneState s, long now) {
            s.leases.remove(member);
            s.waiters.remove(member);
            return null;
        }
    }
}
