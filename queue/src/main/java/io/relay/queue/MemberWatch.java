package io.relay.queue;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Notices the embedded member stopping under the node and says so once.
 *
 * <p>Strategy: a lifecycle listener for a terminate or shutdown through Hazelcast's
 * lifecycle service, and a poll of {@code isRunning()} each second, because Hazelcast's
 * OutOfMemoryError handler stops the member without firing lifecycle events. A stop the
 * node asked for itself ({@code closing}) is not a loss.
 */
final class MemberWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MemberWatch.class);

    private final HazelcastInstance hazelcast;
    private final BooleanSupplier closing;
    private final Runnable lost;
    private final AtomicBoolean fired = new AtomicBoolean();
    private final ScheduledExecutorService poll;
    private UUID listener;

    private MemberWatch(HazelcastInstance hazelcast, BooleanSupplier closing, Runnable lost) {
        this.hazelcast = hazelcast;
        this.closing = closing;
        this.lost = lost;
        this.poll = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "member-watch");
            t.setDaemon(true);
            return t;
        });
    }

    static MemberWatch start(HazelcastInstance hazelcast, BooleanSupplier closing, Runnable lost) {
        MemberWatch w = new MemberWatch(hazelcast, closing, lost);
        w.listener = hazelcast.getLifecycleService().addLifecycleListener(e -> {
            if (e.getState() == LifecycleEvent.LifecycleState.SHUTTING_DOWN
                    || e.getState() == LifecycleEvent.LifecycleState.SHUTDOWN) {
                try {
                    w.poll.execute(() -> w.lost("lifecycle " + e.getState()));
                } catch (java.util.concurrent.RejectedExecutionException done) {
                    // already reported (or closed): the poll stops after the first report
                }
            }
        });
        w.poll.scheduleWithFixedDelay(() -> {
            if (!hazelcast.getLifecycleService().isRunning()) {
                w.lost("not running");
            }
        }, 1, 1, TimeUnit.SECONDS);
        return w;
    }

    private void lost(String how) {
        if (closing.getAsBoolean() || !fired.compareAndSet(false, true)) {
            return;
        }
        LOG.debug("cluster member stopped under the node ({})", how);
        poll.shutdown();
        Thread t = new Thread(lost, "member-lost");
        t.setDaemon(false);
        t.start();
    }

    @Override
    public void close() {
        poll.shutdownNow();
        try {
            if (listener != null && hazelcast.getLifecycleService().isRunning()) {
                hazelcast.getLifecycleService().removeLifecycleListener(listener);
            }
        } catch (RuntimeException e) {
            LOG.debug("member watch close: {}", e.toString());
        }
    }
}
