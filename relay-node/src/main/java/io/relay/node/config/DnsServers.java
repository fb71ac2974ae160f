package io.relay.node.config;

import java.net.InetSocketAddress;
import java.util.List;

/** {@code smtp.dns-servers} as the JDK's DNS provider (JNDI) names them, for every lookup the node makes. */
public final class DnsServers {
    private DnsServers() {
    }

    /** {@code dns://host:port dns://[v6]:port ...}, or {@code dns:} (the system's resolvers) for an empty list. */
    public static String providerUrl(List<InetSocketAddress> servers) {
        StringBuilder url = new StringBuilder();
        for (InetSocketAddress s : servers) {
            String host = s.getHostString().contains(":") ? "[" + s.getHostString() + "]" : s.getHostString();
            url.append(url.length() == 0 ? "" : " ").append("dns://").append(host).append(':').append(s.getPort());
        }
        return url.length() == 0 ? "dns:" : url.toString();
    }
}
