package io.relay.node.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.map.IMap;
import io.relay.node.auth.AuthFailures;
import java.io.Serializable;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Failed AUTH attempts per client address for the whole cluster, and the lockout they lead
 * to: {@code smtpd.auth-failure-limit} failures within {@code smtpd.auth-failure-window}
 * lock the client out until the oldest of them is older than the window (a sliding window,
 * as fail2ban counts). A limit of 0 locks no one and makes no cluster call.
 *
 * <p>Strategy: one small entry per client in the Hazelcast map {@value #MAP}: the instants
 * of its last {@code limit} failures on the partition owner's clock. A failure is one entry
 * processor on the owner (atomic, one round trip) that adds the instant, drops those older
 * than the window and gives the entry a time-to-live of one window, so a client that stops
 * trying leaves nothing behind. {@link #locked} is one read of the entry. Each call waits
 * at most {@link #CALL_TIMEOUT}: a cluster that does not answer (or fails) must neither
 * lock every client out nor stall a session, so it answers "not locked", and one WARN line
 * says so until the cluster answers again.
 */
public final class ClusterAuthFailures implements AuthFailures {
    static final String MAP = "relay-auth-failures";
    static final Duration CALL_TIMEOUT = Duration.ofSeconds(2);
    static final long EXPIRY_SLACK_MILLIS = 1_000;
    private static final Logger LOG = LoggerFactory.getLogger(ClusterAuthFailures.class);

    private final IMap<String, long[]> failures;
    private final int limit;
    private final long windowMillis;
    private final AtomicBoolean failing = new AtomicBoolean();

    /**
     * @param limit  {@code smtpd.auth-failure-limit}: failures in the window that lock a client out; 0: never
     * @param window {@code smtpd.auth-failure-window}
     */
    public ClusterAuthFailures(HazelcastInstance hazelcast, int limit, Duration window) {
        this.failures = hazelcast.getMap(MAP);
        this.limit = limit;
        this.windowMillis = Math.max(1, window.toMillis());
    }

    @Override
    public boolean locked(InetAddress client) {
        if (limit <= 0) {
            return false;
        }
        try {
            long[] at = failures.getAsync(key(client)).toCompletableFuture()
                    .get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            answered();
            return at != null && inWindow(at, System.currentTimeMillis() - windowMillis) >= limit;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            unanswered("lockout check", e);
            return false;
        }
    }

    @Override
    public void failed(InetAddress client) {
        if (limit <= 0) {
            return;
        }
        try {
            failures.submitToKey(key(client), new Count(limit, windowMillis)).toCompletableFuture()
                    .get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            answered();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            unanswered("failure count", e);
        }
    }

    private static String key(InetAddress client) {
        return client.getHostAddress();
    }

    static int inWindow(long[] at, long since) {
        int n = 0;
        for (long t : at) {
            if (t > since) {
                n++;
            }
        }
        return n;
    }

    private void answered() {
        if (failing.compareAndSet(true, false)) {
            LOG.info("AUTH failure counting works again");
        }
    }

    private void unanswered(String what, Exception e) {
        if (failing.compareAndSet(false, true)) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            LOG.warn("AUTH {} failed, clients are not locked out until the cluster answers again: {}", what,
                    cause.toString());
        }
    }

    /**
     * Adds one failure at the owner's now, keeping the newest {@code limit} within the window;
     * the backups apply the owner's instant (as {@code ClusterLimits}' processors do).
     */
    static final class Count implements EntryProcessor<String, long[], Void>, Serializable {
        private static final long serialVersionUID = 1L;
        private final int limit;
        private final long windowMillis;
        private long fixedNow = Long.MIN_VALUE;

        Count(int limit, long windowMillis) {
            this.limit = limit;
            this.windowMillis = windowMillis;
        }

        @Override
        public Void process(Map.Entry<String, long[]> entry) {
            if (fixedNow == Long.MIN_VALUE) {
                fixedNow = System.currentTimeMillis();
            }
            long since = fixedNow - windowMillis;
            long[] old = entry.getValue() == null ? new long[0] : entry.getValue();
            long[] kept = Arrays.stream(old).filter(t -> t > since).toArray();
            long[] next = Arrays.copyOf(kept, kept.length + 1);
            next[kept.length] = fixedNow;
            if (next.length > limit) {
                next = Arrays.copyOfRange(next, next.length - limit, next.length);
            }
            if (entry instanceof ExtendedMapEntry<String, long[]> e) {
                // a second longer than the window: Hazelcast keeps expiry times in whole seconds, so a
                // TTL of exactly the window could drop the entry (and lift the lock) up to a second
                // early; the instants above decide the lock, the TTL only clears a client that left
                e.setValue(next, windowMillis + EXPIRY_SLACK_MILLIS, TimeUnit.MILLISECONDS);
            } else {
                entry.setValue(next);
            }
            return null;
        }
    }
}
