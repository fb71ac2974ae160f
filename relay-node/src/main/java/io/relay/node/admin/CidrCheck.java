package io.relay.node.admin;

import io.relay.routing.Cidr;
import java.util.Optional;

/**
 * What the admin API accepts as a mynetworks entry: a CIDR or a bare address (a /32 or
 * /128 host), parsed as {@link Cidr}; this class words the answers for the API's reader.
 * Host bits set are cleared, with a warning (10.0.0.1/16 becomes 10.0.0.0/16). An entry
 * that would open relaying to the Internet (the whole address space, or a public range
 * wider than /16 for IPv4 or /32 for IPv6, as {@link Cidr#openRelayRisk()} judges it) is
 * refused unless forced. The risk is stated without saying how to force it, since that
 * depends on who reads it: {@link #refusal} words it for the admin API and relayctl.
 */
public final class CidrCheck {
    private CidrCheck() {
    }

    /** An accepted entry: its canonical network, and a warning when it was rewritten. */
    public record Normalized(String network, Optional<String> warning) {
    }

    /** Parses and normalizes; IllegalArgumentException with a one-line reason when it is no network. */
    public static Normalized normalize(String raw) {
        String text = raw == null ? "" : raw.strip();
        if (text.isEmpty()) {
            throw new IllegalArgumentException("empty network: give a CIDR such as 10.0.0.0/16");
        }
        Cidr cidr;
        try {
            cidr = Cidr.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + raw + "' is not a CIDR network (e.g. 10.0.0.0/16 or 2001:db8::/48)");
        }
        if (cidr.hostBitsSet()) {
            return new Normalized(cidr.text(), Optional.of("'" + raw + "' has host bits set; stored as " + cidr.text()));
        }
        return new Normalized(cidr.text(), Optional.empty());
    }

    /** Why this (normalized) network would make us an open relay; empty when it would not. */
    public static Optional<String> openRelayRisk(String network) {
        return Cidr.parse(network).openRelayRisk()
                .map(risk -> risk + " — that makes this relay an open relay for spammers");
    }

    /**
     * The admin API's refusal of a risky network: the risk and how to go ahead anyway, in
     * the words of relayctl's user (its --force option) and of an API client (the field).
     */
    public static String refusal(String risk) {
        return risk + "; to do it anyway, pass --force to relayctl (\"force\": true in the admin API)";
    }
}
