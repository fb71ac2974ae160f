package io.relay.routing;

import inet.ipaddr.AddressStringException;
import inet.ipaddr.IPAddress;
import inet.ipaddr.IPAddressString;
import java.util.List;
import java.util.Optional;

/**
 * One IPv4 or IPv6 network as an operator writes it: a CIDR ({@code 10.0.0.0/8},
 * {@code 2001:db8::/32}) or a bare address (a /32 or /128 host). The one parser of network
 * text: the config's mynetworks ({@link NetworkSet}), the Postfix import and the admin API
 * all read through it, and each words a refusal for its own reader.
 *
 * <p>The library reads {@code 10.0.0.0/8} as the whole block and {@code 10.0.0.1/8} as one
 * address with a prefix length: only the latter has {@link #hostBitsSet()}; {@link #block()}
 * is the network either way.
 *
 * @param block       the network, host bits cleared
 * @param hostBitsSet whether the text had host bits set ({@code 10.0.0.1/16})
 */
public record Cidr(IPAddress block, boolean hostBitsSet) {
    private static final List<String> NON_PUBLIC_BLOCKS = List.of("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
            "127.0.0.0/8", "169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128");

    /** Parses {@code text} (stripped); IllegalArgumentException with the library's reason when it is no network. */
    public static Cidr parse(String text) {
        IPAddress addr;
        try {
            addr = new IPAddressString(text == null ? "" : text.strip()).toAddress();
        } catch (AddressStringException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
        if (addr == null) {
            throw new IllegalArgumentException("no address");
        }
        if (addr.getNetworkPrefixLength() == null) {
            addr = addr.setPrefixLength(addr.getBitCount(), false);
        }
        return new Cidr(addr.toPrefixBlock(), !addr.isPrefixBlock());
    }

    /** The network as canonical text ({@code 10.0.0.0/16}). */
    public String text() {
        return block.toCanonicalString();
    }

    /**
     * Why this network would make us an open relay, for the config check and the admin API:
     * the whole address space (0.0.0.0/0, ::/0), or a public range (not private, loopback,
     * link-local or unique-local) wider than /16 for IPv4 or /32 for IPv6. Empty when it would not.
     */
    public Optional<String> openRelayRisk() {
        int prefix = block.getNetworkPrefixLength() == null ? block.getBitCount() : block.getNetworkPrefixLength();
        String text = text();
        if (prefix == 0) {
            return Optional.of(text + ": the whole " + (block.isIPv4() ? "IPv4" : "IPv6")
                    + " address space; anyone on the Internet could relay through us");
        }
        int widest = block.isIPv4() ? 16 : 32;
        if (prefix < widest && !nonPublic()) {
            return Optional.of(text + ": a public range wider than /" + widest + " (" + block.getCount()
                    + " addresses); only list the networks of your own senders");
        }
        return Optional.empty();
    }

    /** True when the whole block lies inside one private, loopback, link-local or unique-local block. */
    private boolean nonPublic() {
        IPAddress lower = block.getLower().withoutPrefixLength();
        IPAddress upper = block.getUpper().withoutPrefixLength();
        for (String b : NON_PUBLIC_BLOCKS) {
            IPAddress known = new IPAddressString(b).getAddress();
            if (known.getIPVersion() == lower.getIPVersion() && known.contains(lower) && known.contains(upper)) {
                return true;
            }
        }
        return false;
    }
}
