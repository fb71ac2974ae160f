package io.relay.routing;

import inet.ipaddr.IPAddress;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * A set of IPv4/IPv6 networks written as CIDRs (Postfix's mynetworks). Matching uses the
 * IPAddress library's prefix containment; an IPv4-mapped IPv6 client address
 * ({@code ::ffff:10.0.0.1}) is matched as its IPv4 address.
 */
public final class NetworkSet {
    private static final inet.ipaddr.IPAddressNetwork.IPAddressGenerator ADDRESSES =
            new inet.ipaddr.IPAddressNetwork.IPAddressGenerator();
    private final List<IPAddress> networks;

    private NetworkSet(List<IPAddress> networks) {
        this.networks = List.copyOf(networks);
    }

    /**
     * Parses CIDRs ({@code 10.0.0.0/8}, {@code 2001:db8::/32}) and bare addresses (a
     * single host). An entry with host bits set is refused, naming the network it
     * probably meant. Throws IllegalArgumentException naming the bad entry.
     */
    public static NetworkSet parse(List<String> entries) {
        List<IPAddress> out = new ArrayList<>();
        for (String raw : entries) {
            out.add(parseOne(raw));
        }
        return new NetworkSet(out);
    }

    static IPAddress parseOne(String raw) {
        String text = raw == null ? "" : raw.trim();
        if (text.startsWith("[") && text.contains("]")) { // Postfix writes [::1]/128
            text = text.replace("[", "").replace("]", "");
        }
        Cidr cidr;
        try {
            cidr = Cidr.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + raw + "' is not a CIDR network: " + e.getMessage());
        }
        if (cidr.hostBitsSet()) {
            throw new IllegalArgumentException("'" + raw + "' has host bits set; the network is " + cidr.text());
        }
        return cidr.block();
    }

    public boolean contains(InetAddress address) {
        // from the address's bytes: no text round trip (this runs for every SMTP session)
        IPAddress a = ADDRESSES.from(address);
        if (a == null) {
            return false;
        }
        if (a.isIPv6() && a.toIPv6().isIPv4Mapped()) {
            a = a.toIPv6().getEmbeddedIPv4Address();
        }
        for (IPAddress n : networks) {
            if (n.getIPVersion() == a.getIPVersion() && n.contains(a)) {
                return true;
            }
        }
        return false;
    }

    /**
     * One reason per entry that would make us an open relay, for the admin CLI's checks:
     * the whole address space (0.0.0.0/0, ::/0), or a public range (not private,
     * loopback, link-local or unique-local) wider than /16 for IPv4 or /32 for IPv6.
     */
    public List<String> openRelayRisks() {
        List<String> out = new ArrayList<>();
        for (IPAddress n : networks) {
            new Cidr(n, false).openRelayRisk().ifPresent(out::add);
        }
        return out;
    }

    public List<String> asText() {
        return networks.stream().map(IPAddress::toCanonicalString).toList();
    }

    @Override
    public String toString() {
        return String.join(", ", asText());
    }
}
