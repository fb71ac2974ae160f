package io.relay.routing;

import inet.ipaddr.AddressStringException;
import inet.ipaddr.IPAddress;
import inet.ipaddr.IPAddressString;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * A set of IPv4/IPv6 networks written as CIDRs (Postfix's mynetworks). Matching uses the
 * IPAddress library's prefix containment; an IPv4-mapped IPv6 client address
 * ({@code ::ffff:10.0.0.1}) is matched as its IPv4 address.
 */
public final class NetworkSet {
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
        IPAddress addr;
        try {
            addr = new IPAddressString(text).toAddress();
        } catch (AddressStringException e) {
            throw new IllegalArgumentException("'" + raw + "' is not a CIDR network: " + e.getMessage());
        }
        if (addr.getNetworkPrefixLength() == null) {
            addr = addr.setPrefixLength(addr.getBitCount(), false);
        }
        IPAddress network = addr.toPrefixBlock();
        if (!addr.getLower().withoutPrefixLength().equals(network.getLower().withoutPrefixLength())) {
            throw new IllegalArgumentException("'" + raw + "' has host bits set; the network is "
                    + network.toCanonicalString());
        }
        return network;
    }

    public boolean contains(InetAddress address) {
        IPAddress a = new IPAddressString(address.getHostAddress()).getAddress();
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

    public List<String> asText() {
        return networks.stream().map(IPAddress::toCanonicalString).toList();
    }

    @Override
    public String toString() {
        return String.join(", ", asText());
    }
}
