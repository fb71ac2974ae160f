package io.relay.node.cluster;

import io.relay.node.dkim.DkimKey;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The DKIM keys that sign, per domain, as the message path will ask for them: read-only,
 * unsealed ({@link DkimKeyVault}) once per key and not per message.
 *
 * <p>Strategy: an immutable map behind a volatile reference, swapped by {@link #apply} on
 * every state the {@link AdminStateStore} takes (as {@link ClusterSaslUsers} does for
 * users), so a lookup makes no cluster call and no decryption. A key already unsealed for
 * an earlier state is reused while its sealed bytes are the same. A key that does not
 * unseal on this node (another KEK file, no KEK file, a damaged entry) leaves its domain
 * without a signing key here and gives one WARN line naming the key and the problem, once
 * per state change; {@link #problem} tells the same to whoever asks.
 */
public final class ClusterDkimKeys {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterDkimKeys.class);

    /** What one domain gives: its signing keys, or why it has none on this node. */
    private record Signing(List<DkimKey> keys, String problem, String sealed) {
    }

    private final DkimKeyVault vault;
    private volatile Map<String, Signing> domains = Map.of();
    /** Whether any domain signs here: worked out per state, not per message. */
    private volatile boolean any;

    /** @param vault this node's, or null when {@code dkim.key-encryption-key-file} is not set */
    public ClusterDkimKeys(DkimKeyVault vault) {
        this.vault = vault;
    }

    /** Takes {@code s}'s DKIM keys; for {@code AdminStateStore}'s state consumer. */
    public synchronized void apply(AdminState s) {
        Map<String, Signing> before = domains;
        Map<String, Signing> next = new HashMap<>();
        s.dkim().forEach((domain, d) -> {
            AdminState.DkimKeyEntry e = d.active() == null ? null : d.keys().get(d.active());
            if (e == null) {
                return;
            }
            Signing old = before.get(domain);
            if (old != null && e.sealed() != null && e.sealed().equals(old.sealed())
                    && (old.problem() != null || old.keys().get(0).selector().equals(d.active()))) {
                next.put(domain, old);
                return;
            }
            try {
                if (vault == null) {
                    throw new IllegalStateException("DKIM key " + domain + "/" + d.active() + " cannot be used here: "
                            + DkimKeyVault.NO_KEK);
                }
                next.put(domain, new Signing(List.of(vault.open(domain, d.active(), e)), null, e.sealed()));
            } catch (IllegalStateException problem) {
                LOG.warn("{}; {} is not signed by this node", problem.getMessage(), domain);
                next.put(domain, new Signing(List.of(), problem.getMessage(), e.sealed()));
            }
        });
        domains = Map.copyOf(next);
        any = next.values().stream().anyMatch(g -> !g.keys().isEmpty());
    }

    /** The keys that sign {@code domain}'s mail (lower-case A-labels); empty when none does on this node. */
    public List<DkimKey> active(String domain) {
        Signing s = domains.get(domain);
        return s == null ? List.of() : s.keys();
    }

    /** Whether any domain has a signing key on this node: without one the message path reads nothing. */
    public boolean any() {
        return any;
    }

    /** Why {@code domain} has an active key in the cluster that this node cannot use, if it has one. */
    public Optional<String> problem(String domain) {
        Signing s = domains.get(domain);
        return s == null ? Optional.empty() : Optional.ofNullable(s.problem());
    }
}
