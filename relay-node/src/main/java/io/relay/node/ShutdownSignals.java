package io.relay.node;

import io.relay.node.config.Durations;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * The node's signals. SIGTERM and SIGINT start the node's drain ({@link RelayNode#drain})
 * on a thread of its own and exit 0 when it is done; a second signal cuts the drain's
 * waits short, which the first one says on the console. SIGHUP is {@code postfix reload}:
 * the mail log is reopened and the YAML read again ({@link ConfigReload}); it never stops
 * the node (the JVM's default for SIGHUP is to exit at once, without a drain).
 *
 * <p>A plain JVM shutdown hook could not drain: the hooks run only once the JVM is
 * already exiting, and a second SIGTERM cannot reach them. The hook stays as a backstop
 * that closes the node on any other exit.
 */
final class ShutdownSignals {
    private static final Logger LOG = LoggerFactory.getLogger(ShutdownSignals.class);

    private ShutdownSignals() {
    }

    static void install(RelayNode node, ConfigReload reload) {
        AtomicReference<Thread> drain = new AtomicReference<>();
        Runtime.getRuntime().addShutdownHook(new Thread(node::close, "shutdown"));
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), sig -> startDrain(node, drain, "SIG" + sig.getName()));
        }
        try {
            // the JVM runs each handler on a thread of its own; ConfigReload serializes them
            Signal.handle(new Signal("HUP"), sig -> reload.reload());
        } catch (IllegalArgumentException e) {
            // started with SIGHUP ignored (nohup): the JVM keeps its hands off it, and so do we
            LOG.warn("SIGHUP is ignored by this process (started under nohup?): no reload on SIGHUP");
        }
        // relayctl cluster drain: the same drain, then the same exit
        // (never cutting a running drain short, as a second signal does); attached after the
        // start, not passed to it: the action drains this running node, which it must exist for
        node.onAdminDrain(() -> {
            if (drain.get() == null) {
                startDrain(node, drain, "admin API drain request");
            }
        });
    }

    private static void startDrain(RelayNode node, AtomicReference<Thread> drain, String why) {
        Thread running = drain.get();
        if (running != null) {
            LOG.info("second {}: finishing the drain now", why);
            running.interrupt();
            return;
        }
        java.time.Duration delay = node.drainDelay();
        java.time.Duration timeout = node.drainTimeout();
        Thread t = new Thread(() -> {
            node.drain(delay, timeout);
            System.exit(0);
        }, "drain");
        // Not a daemon: the node's own threads end while it closes, and the JVM must
        // not exit before the queue has left the cluster and flushed its spool.
        t.setDaemon(false);
        if (drain.compareAndSet(null, t)) {
            // an operator at a terminal waits the whole delay otherwise, not knowing why
            LOG.info("{} received: draining for {} (health.drain-delay){}", why, Durations.format(delay),
                    why.startsWith("SIG") ? "; send it again to stop now" : "");
            t.start();
        }
    }
}
