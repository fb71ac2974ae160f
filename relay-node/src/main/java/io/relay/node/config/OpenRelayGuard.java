package io.relay.node.config;

import io.relay.routing.NetworkSet;
import java.util.ArrayList;
import java.util.List;

/**
 * Refuses networks that would make the node an open relay: {@code smtpd.mynetworks} (clients
 * that may relay) and {@code smtpd.proxy-protocol.trusted-networks} (peers whose PROXY header
 * names the client, so any of them could claim a mynetworks address). What counts as too wide
 * is {@link NetworkSet#openRelayRisks()}, the same judgement the admin API applies to its
 * mynetworks changes. {@code smtpd.allow-open-relay: true} turns the refusal into a WARN at
 * every start.
 */
public final class OpenRelayGuard {
    static final String REFUSED = " — that makes this relay an open relay for spammers;"
            + " list only your own networks, or set smtpd.allow-open-relay: true if you mean it";

    private OpenRelayGuard() {
    }

    /** One risk: the key and why. */
    public record Risk(String key, String reason) {
    }

    /**
     * The risks of both keys; a list that does not parse is added to {@code problems} instead
     * (naming the key and the entry).
     */
    public static List<Risk> risks(RelayConfig.Smtpd smtpd, Problems problems) {
        List<Risk> out = new ArrayList<>();
        add(out, "smtpd.mynetworks", smtpd.mynetworks, problems);
        add(out, "smtpd.proxy-protocol.trusted-networks", smtpd.proxyProtocol.trustedNetworks, problems);
        return out;
    }

    /** The WARN lines of a configuration that allows an open relay on purpose; empty otherwise. */
    public static List<String> warnings(RelayConfig.Smtpd smtpd) {
        if (!smtpd.allowOpenRelay) {
            return List.of();
        }
        return risks(smtpd, new Problems()).stream()
                .map(r -> r.key() + ": " + r.reason() + " — allowed by smtpd.allow-open-relay: true").toList();
    }

    private static void add(List<Risk> out, String key, List<String> networks, Problems problems) {
        try {
            NetworkSet.parse(networks).openRelayRisks().forEach(r -> out.add(new Risk(key, r)));
        } catch (IllegalArgumentException e) {
            problems.add(key, e.getMessage());
        }
    }
}
