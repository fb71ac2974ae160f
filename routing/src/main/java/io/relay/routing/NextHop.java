package io.relay.routing;

/**
 * Where a transport sends mail, in Postfix's next-hop forms: {@code [host]:port} and
 * {@code [host]} (no MX lookup), {@code host:port} and {@code host} (MX lookup first).
 * IPv6 literals are written {@code [ipv6:2001:db8::1]} or {@code [2001:db8::1]}.
 *
 * @param host      host name or address literal, without brackets or "ipv6:" prefix
 * @param port      TCP port (25 when not written)
 * @param mxLookup  false when written in brackets
 */
public record NextHop(String host, int port, boolean mxLookup) {
    public static final int SMTP_PORT = 25;

    /** The next hop as Postfix writes it; also the key of lanes, limits and sasl_passwd lookups. */
    public String text() {
        String h = host.contains(":") ? "ipv6:" + host : host;
        String base = mxLookup ? h : "[" + h + "]";
        return port == SMTP_PORT ? base : base + ":" + port;
    }

    @Override
    public String toString() {
        return text();
    }
}
