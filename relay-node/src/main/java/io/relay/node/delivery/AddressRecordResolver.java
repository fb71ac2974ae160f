package io.relay.node.delivery;

import io.relay.routing.NextHop;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Resolves a next hop by its A/AAAA records only, through the JDK's resolver: Postfix's
 * meaning of the bracketed form {@code [host]:port}. Also used for unbracketed hops until
 * an MX resolver is wired (the lead decides; issue 3 item 4). Addresses come back in the
 * resolver's order, which honours the system's address preference (gai.conf).
 */
public final class AddressRecordResolver implements NextHopResolver {

    @Override
    public List<InetSocketAddress> resolve(NextHop hop) throws UnknownHostException {
        InetAddress[] all;
        try {
            all = InetAddress.getAllByName(hop.host());
        } catch (UnknownHostException e) {
            // The system resolver says only "not known" or "temporary failure" (getaddrinfo's
            // EAI_NONAME / EAI_AGAIN), for A and AAAA together.
            boolean temporary = e.getMessage() != null && e.getMessage().contains("Temporary failure");
            throw new DnsLookupException(hop.host(), "A", temporary ? DnsLookupException.Kind.TRY_AGAIN
                    : DnsLookupException.Kind.NOT_FOUND, null);
        }
        List<InetSocketAddress> out = new ArrayList<>();
        for (InetAddress a : all) {
            out.add(new InetSocketAddress(a, hop.port()));
        }
        return out;
    }
}
