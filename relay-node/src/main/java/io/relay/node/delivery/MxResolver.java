package io.relay.node.delivery;

import io.relay.routing.NextHop;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Hashtable;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import javax.naming.Context;
import javax.naming.NameNotFoundException;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.Attributes;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;

/**
 * Resolves next hops as Postfix's smtp(8) does: for an unbracketed hop, its MX records by
 * preference (shuffled among equal preferences, so load spreads), then each exchanger's
 * A/AAAA records; the domain's own A/AAAA when it has no MX; a null MX (RFC 7505) is a
 * permanent failure ({@link NullMxException}). Bracketed hops skip the MX lookup. The
 * SmtpClient walks the returned list, so a refused connection or a 4xx greeting moves on
 * to the next exchanger.
 *
 * <p>Strategy: the JDK's DNS provider (JNDI, {@code dns://server:port}), blocking, on the
 * delivery worker threads. Netty's DnsNameResolver was the first choice, but its decoder
 * hands MX rdata back with compressed names left as pointers into a message it no longer
 * has; JNDI decodes MX fully and needs no extra dependency.
 *
 * <p>Settings: {@code smtp.dns-servers} (host:port list; empty = the system resolver),
 * the query timeout.
 */
public final class MxResolver implements NextHopResolver {
    private final String providerUrl;
    private final Duration timeout;

    /** @param dnsServers smtp.dns-servers; empty means the system's resolvers */
    public MxResolver(List<InetSocketAddress> dnsServers, Duration timeout) {
        StringBuilder url = new StringBuilder();
        for (InetSocketAddress s : dnsServers) {
            String host = s.getHostString().contains(":") ? "[" + s.getHostString() + "]" : s.getHostString();
            url.append(url.length() == 0 ? "" : " ").append("dns://").append(host).append(':').append(s.getPort());
        }
        this.providerUrl = url.length() == 0 ? "dns:" : url.toString();
        this.timeout = timeout;
    }

    @Override
    public List<InetSocketAddress> resolve(NextHop hop) throws UnknownHostException {
        DirContext ctx = context();
        try {
            if (!hop.mxLookup()) {
                return addresses(ctx, hop.host(), hop.port());
            }
            List<String> exchangers = exchangers(ctx, hop.host());
            if (exchangers.isEmpty()) {
                return addresses(ctx, hop.host(), hop.port());
            }
            List<InetSocketAddress> out = new ArrayList<>();
            for (String mx : exchangers) {
                try {
                    out.addAll(addresses(ctx, mx, hop.port()));
                } catch (UnknownHostException e) {
                    // An exchanger without addresses is skipped, as Postfix does; others may work.
                }
            }
            if (out.isEmpty()) {
                throw new UnknownHostException(hop.host() + ": no address for any MX host");
            }
            return out;
        } finally {
            try {
                ctx.close();
            } catch (NamingException ignored) {
                // nothing held open
            }
        }
    }

    private DirContext context() throws UnknownHostException {
        Hashtable<String, String> env = new Hashtable<>();
        env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.dns.DnsContextFactory");
        env.put(Context.PROVIDER_URL, providerUrl);
        env.put("com.sun.jndi.dns.timeout.initial", Long.toString(Math.max(100, timeout.toMillis() / 3)));
        env.put("com.sun.jndi.dns.timeout.retries", "2");
        try {
            return new InitialDirContext(env);
        } catch (NamingException e) {
            throw new UnknownHostException("no DNS resolver: " + e.getExplanation());
        }
    }

    private static List<String> exchangers(DirContext ctx, String domain) throws UnknownHostException {
        Attribute mx = attribute(ctx, domain, "MX");
        if (mx == null) {
            return List.of();
        }
        TreeMap<Integer, List<String>> byPreference = new TreeMap<>();
        try {
            NamingEnumeration<?> values = mx.getAll();
            while (values.hasMore()) {
                String[] parts = values.next().toString().trim().split("\\s+");
                if (parts.length != 2) {
                    continue;
                }
                String host = parts[1].endsWith(".") ? parts[1].substring(0, parts[1].length() - 1) : parts[1];
                byPreference.computeIfAbsent(Integer.parseInt(parts[0]), k -> new ArrayList<>())
                        .add(host.toLowerCase(Locale.ROOT));
            }
        } catch (NamingException | NumberFormatException e) {
            throw new UnknownHostException(domain + ": malformed MX records");
        }
        List<String> ordered = new ArrayList<>();
        for (List<String> same : byPreference.values()) {
            Collections.shuffle(same, ThreadLocalRandom.current());
            ordered.addAll(same);
        }
        if (ordered.size() == 1 && ordered.get(0).isEmpty()) {
            throw new NullMxException(domain);
        }
        ordered.removeIf(String::isEmpty);
        return ordered;
    }

    private static List<InetSocketAddress> addresses(DirContext ctx, String host, int port) throws UnknownHostException {
        List<InetSocketAddress> out = new ArrayList<>();
        if (Character.digit(host.charAt(0), 16) >= 0 && (host.contains(":") || host.matches("[0-9.]+"))) {
            out.add(new InetSocketAddress(InetAddress.getByName(host), port));
            return out;
        }
        for (String type : List.of("A", "AAAA")) {
            Attribute a = attribute(ctx, host, type);
            if (a == null) {
                continue;
            }
            try {
                NamingEnumeration<?> values = a.getAll();
                while (values.hasMore()) {
                    InetAddress literal = InetAddress.getByName(values.next().toString().trim());
                    // Keep the name with the address, so the log says mx1.example.com[192.0.2.1].
                    out.add(new InetSocketAddress(InetAddress.getByAddress(host, literal.getAddress()), port));
                }
            } catch (NamingException e) {
                throw new UnknownHostException(host + ": " + type + " lookup failed");
            }
        }
        if (out.isEmpty()) {
            throw new UnknownHostException(host);
        }
        return out;
    }

    private static Attribute attribute(DirContext ctx, String name, String type) throws UnknownHostException {
        try {
            Attributes attrs = ctx.getAttributes(name, new String[] {type});
            return attrs.get(type);
        } catch (NameNotFoundException e) {
            return null;
        } catch (NamingException e) {
            throw new UnknownHostException(name + ": DNS lookup of " + type + " failed");
        }
    }
}
