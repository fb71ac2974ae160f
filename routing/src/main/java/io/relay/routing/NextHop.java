package io.relay.routing;

import java.util.Locale;

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

    public NextHop {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("next hop host is empty");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("next hop port " + port + " is outside 1-65535");
        }
    }

    /** {@link #parse(String, int)} with port 25 as the default. */
    public static NextHop parse(String text) {
        return parse(text, SMTP_PORT);
    }

    /**
     * Parses {@code [host]:port}, {@code [host]}, {@code host:port}, {@code host},
     * {@code [ipv6:2001:db8::1]:587} and {@code [2001:db8::1]}. An IPv6 literal must be
     * bracketed, since its colons would otherwise read as a port. Throws
     * IllegalArgumentException naming the input and the problem.
     */
    public static NextHop parse(String text, int defaultPort) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("next hop '" + text + "': empty");
        }
        String s = text.trim();
        String host;
        String portText = null;
        boolean mx;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("next hop '" + text + "': '[' without a closing ']'");
            }
            host = s.substring(1, close);
            String rest = s.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw new IllegalArgumentException("next hop '" + text + "': unexpected '" + rest + "' after ']'");
                }
                portText = rest.substring(1);
            }
            if (host.regionMatches(true, 0, "ipv6:", 0, 5)) {
                host = host.substring(5);
            }
            mx = false;
        } else {
            if (s.indexOf(']') >= 0) {
                throw new IllegalArgumentException("next hop '" + text + "': ']' without an opening '['");
            }
            int colon = s.indexOf(':');
            if (colon >= 0 && s.indexOf(':', colon + 1) >= 0) {
                throw new IllegalArgumentException("next hop '" + text + "': an IPv6 address must be written in brackets, e.g. [" + s + "]");
            }
            if (colon >= 0) {
                host = s.substring(0, colon);
                portText = s.substring(colon + 1);
            } else {
                host = s;
            }
            mx = true;
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("next hop '" + text + "': empty host");
        }
        if (host.chars().anyMatch(c -> Character.isWhitespace(c) || c == '[' || c == ']' || c == '@' || c == ',')) {
            throw new IllegalArgumentException("next hop '" + text + "': invalid character in host '" + host + "'");
        }
        if (host.contains(":") && mx) {
            throw new IllegalArgumentException("next hop '" + text + "': an IPv6 address must be written in brackets");
        }
        int port = defaultPort;
        if (portText != null) {
            port = parsePort(text, portText);
        }
        return new NextHop(host.toLowerCase(Locale.ROOT), port, mx);
    }

    private static int parsePort(String text, String portText) {
        if (portText.isEmpty() || portText.length() > 5 || !portText.chars().allMatch(Character::isDigit)) {
            if ("submission".equalsIgnoreCase(portText)) {
                return 587;
            }
            if ("smtp".equalsIgnoreCase(portText)) {
                return 25;
            }
            if ("smtps".equalsIgnoreCase(portText) || "submissions".equalsIgnoreCase(portText)) {
                return 465;
            }
            throw new IllegalArgumentException("next hop '" + text + "': port '" + portText + "' is not a number");
        }
        int port = Integer.parseInt(portText);
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("next hop '" + text + "': port " + port + " is outside 1-65535");
        }
        return port;
    }

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
