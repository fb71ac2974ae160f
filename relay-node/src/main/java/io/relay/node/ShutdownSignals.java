package io.relay.node;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT start the node's drain ({@link RelayNode#drain}) on a thread of its
 * own and exit 0 when it is done; a second signal cuts the drain's waits short. A plain
 * JVM shutdown hook could not do this: the hooks run only once the JVM is already
 * exiting, and a second SIGTERM cannot reach them. The hook stays as a backstop that
 * closes the node on any other exit.
 */
final class ShutdownSignals {
    private static final Logger LOG = LoggerFactory.getLogger(ShutdownSignals.class);

    private ShutdownSignals() {
    }

    static void install(RelayNode node, Duration drainDelay, Duration drainTimeout) {
        AtomicReference<Thread> drain = new AtomicReference<>();
        Runtime.getRuntime().addShutdownHook(new Thread(node::close, "shutdown"));
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), sig -> startDrain(node, drain, drainDelay, drainTimeout, "SIG" + sig.getName()));
        }
        // relayctl cluster drain: the same drain, then the same exit
        // (never cutting a running drain short, as a second signal does)
        node.onAdminDrain(() -> {
            if (drain.get() == null) {
                startDrain(node, drain, drainDelay, drainTimeout, "admin API drain request");
            }
        });
    }

    private static void startDrain(RelayNode node, AtomicReference<Thread> drain, Duration drainDelay,
                                   Duration drainTimeout, String why) {
        Thread running = drain.get();
        if (running != null) {
            LOG.info("second {}: finishing the drain now", why);
            running.interrupt();
            return;
        }
        Thread t = new Thread(() -> {
            node.drain(drainDelay, drainTimeout);
            System.exit(0);
        }, "drain");
        // Not a daemon: the node's own threads end while it closes, and the JVM must
        // not exit before the queue has left the cluster and flushed its spool.
        t.setDaemon(false);
        if (drain.compareAndSet(null, t)) {
            LOG.info("{} received: draining", why);
            t.start();
        }
    }
}
