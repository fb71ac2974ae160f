package io.relay.node;

import io.relay.node.config.ConfigException;
import io.relay.node.config.ConfigKeys;
import io.relay.node.config.RelayConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeSet;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What SIGHUP does, as {@code postfix reload} does: reopens the mail log file (logrotate
 * moved it away; lines now go to a new file at {@code log.file}) and reads the YAML again.
 *
 * <p>Keys that can change under a running node are applied, each logged as
 * {@code reload: KEY: OLD -> NEW (applied)}: {@code smtpd.timeout},
 * {@code smtpd.message-size-limit} and {@code smtpd.recipient-limit} for the sessions that
 * connect from then on, and {@code health.drain-delay} and {@code health.drain-timeout} for
 * the next drain, and {@code queue.min-free-bytes} for the next message. Every other changed key is logged by name only (a value may be a
 * secret) as needing a restart. The cluster's tables (what relayctl changed: networks,
 * transport entries, limits, credentials) live in the cluster and a reload never touches
 * them. A YAML that does not load leaves the running configuration as it was, with one
 * error line.
 */
final class ConfigReload {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigReload.class);

    static final Set<String> SMTPD_LIVE = Set.of("smtpd.timeout", "smtpd.message-size-limit",
            "smtpd.recipient-limit");
    static final Set<String> DRAIN_LIVE = Set.of("health.drain-delay", "health.drain-timeout");
    static final String MIN_FREE = "queue.min-free-bytes";

    private final Path file;
    private final Function<Path, RelayConfig> loader;
    private final RelayNode node;
    /** The keys in force: those of the start, with each applied change laid over them. */
    private RelayConfig running;

    ConfigReload(Path file, RelayConfig running, Function<Path, RelayConfig> loader, RelayNode node) {
        this.file = file;
        this.running = Objects.requireNonNull(running, "running");
        this.loader = loader;
        this.node = node;
    }

    /** One SIGHUP: reopen the mail log, then reload the YAML. Never throws. */
    synchronized void reload() {
        try {
            node.mailLog().reopen();
        } catch (IOException | RuntimeException e) {
            LOG.error("reload: log.file {}: cannot reopen: {}; still writing the old file", node.mailLog().file(),
                    StartFailure.reason(e));
        }
        if (file == null) {
            LOG.info("reload: mail log reopened; no --config file to read again (embedded defaults)");
            return;
        }
        RelayConfig next;
        try {
            next = loader.apply(file);
        } catch (ConfigException e) {
            LOG.error("reload: {}; keeping the running configuration", e.getMessage());
            return;
        } catch (RuntimeException e) {
            LOG.error("reload: {}: {}; keeping the running configuration", file, e.toString());
            return;
        }
        List<String> lines = apply(next);
        node.mailLog().agent("master", "reload -- configuration " + file);
        if (lines.isEmpty()) {
            LOG.info("reload: {}: no key changed", file);
        }
        lines.forEach(LOG::info);
    }

    /** Applies what can be applied and returns one line per changed key. */
    private List<String> apply(RelayConfig next) {
        SortedMap<String, String> was = ConfigKeys.of(running);
        SortedMap<String, String> now = ConfigKeys.of(next);
        Set<String> keys = new TreeSet<>(was.keySet());
        keys.addAll(now.keySet());
        List<String> lines = new ArrayList<>();
        boolean smtpd = false;
        boolean drain = false;
        boolean minFree = false;
        for (String key : keys) {
            String a = was.get(key);
            String b = now.get(key);
            if (Objects.equals(a, b)) {
                continue;
            }
            if (MIN_FREE.equals(key)) {
                minFree = true;
                lines.add("reload: " + key + ": " + a + " -> " + b + " (applied to the next message)");
            } else if (SMTPD_LIVE.contains(key) || DRAIN_LIVE.contains(key)) {
                smtpd |= SMTPD_LIVE.contains(key);
                drain |= DRAIN_LIVE.contains(key);
                lines.add("reload: " + key + ": " + a + " -> " + b + " (applied"
                        + (SMTPD_LIVE.contains(key) ? " to new sessions)" : " to the next drain)"));
            } else {
                lines.add("reload: " + key + ": changed; needs a restart (the running node keeps the old value)");
            }
        }
        if (smtpd) {
            running.smtpd.timeout = next.smtpd.timeout;
            running.smtpd.messageSizeLimit = next.smtpd.messageSizeLimit;
            running.smtpd.recipientLimit = next.smtpd.recipientLimit;
            node.smtpdSettings(running.smtpd);
        }
        if (drain) {
            running.health.drainDelay = next.health.drainDelay;
            running.health.drainTimeout = next.health.drainTimeout;
            node.drainTimes(running.health.drainDelay, running.health.drainTimeout);
        }
        if (minFree) {
            running.queue.minFreeBytes = next.queue.minFreeBytes;
            node.minFreeBytes(running.queue.minFreeBytes);
        }
        return lines;
    }
}
